"""Load test of ``memgym serve`` on loopback: concurrent clients, exact rewards, latency, memory.

The server runs as its own process (``memgym serve``, the command a user runs). ``--clients``
asyncio clients each play ``--episodes`` episodes per round for ``--rounds`` rounds, half over
the WebSocket (OpenEnv's ``EnvClient``, :class:`memgym.serve.client.MemgymClient`) and half
over the HTTP sessions, every step answered by :func:`memgym.serve.client.scripted_reply`
(a fixed reply per prompt). Beside them a prober sends malformed requests the whole time
(bad JSON, unknown sessions, wrong types, oversized bodies, unknown message types).

Checked: no client error; no lost or mixed-up sessions (every episode's reward and terms equal
the in-process :class:`memgym.llm.chunked.ChunkedEpisode` for the same seed); every malformed
request answered 4xx (or an OpenEnv error message), none 5xx; the server's RSS after each
round (flat with ``--repeat-streams``; with new streams every round it grows with memgym's
episode cache, which is bounded at 8192 episodes). Reported: step latency p50 / p99 per transport,
steps/s. Bounded: ``--max-seconds`` stops the clients (the table says if it did).

    python benchmarks/serve_load.py [--clients 8] [--episodes 4] [--rounds 3] [--length 16]
                                    [--repeat-streams]

Writes ``benchmarks/results/serve_load.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"
ENV = "memgym/KVUpdates-Easy-Text-v0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sampler(threading.Thread):
    """The server's RSS every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.samples, self.stop = pid, every, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(rss_mib(self.pid))
            self.stop.wait(self.every)


def expected(seeds: set[int], length: int) -> dict[int, tuple[float, dict[str, float]]]:
    """In-process rollouts with the same replies: what every served episode must score."""
    from memgym.serve.client import scripted_reply
    from memgym.serve.environment import served_rollout
    from memgym.serve.models import ServeSettings

    settings = ServeSettings(env_ids=[ENV])
    out = {}
    for seed in sorted(seeds):
        rollout = served_rollout(settings, ENV, "val")
        rollout.reset(episode_seed=seed, options={"length": length})
        while not rollout.done:
            rollout.apply(scripted_reply(rollout.messages()))
        out[seed] = (rollout.reward(), rollout.rollout_terms)
    return out


async def ws_client(url: str, seeds: list[int], length: int, lat: dict[str, list[float]],
                    deadline: float) -> list[tuple[int, float, dict[str, float]]]:
    from memgym.serve.client import MemgymClient, TurnAction, scripted_reply

    done = []
    async with MemgymClient(url) as env:  # one session, reset per episode
        for seed in seeds:
            if time.monotonic() > deadline:
                break
            t0 = time.perf_counter()
            result = await env.reset(env_id=ENV, seed=seed, split="val",
                                     options={"length": length})
            lat["reset"].append(time.perf_counter() - t0)
            while not result.done:
                t0 = time.perf_counter()
                result = await env.step(TurnAction(reply=scripted_reply(
                    result.observation.messages)))
                lat["ws"].append(time.perf_counter() - t0)
            done.append((seed, result.reward, result.observation.reward_terms))
    return done


async def http_client(url: str, seeds: list[int], length: int, lat: dict[str, list[float]],
                      deadline: float) -> list[tuple[int, float, dict[str, float]]]:
    import httpx

    from memgym.serve.client import scripted_reply

    done = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        opened = await http.post("/sessions")
        opened.raise_for_status()
        sid = opened.json()["session_id"]
        for seed in seeds:
            if time.monotonic() > deadline:
                break
            t0 = time.perf_counter()
            out = await http.post(f"/sessions/{sid}/reset", json={
                "env_id": ENV, "seed": seed, "split": "val", "options": {"length": length}})
            lat["reset"].append(time.perf_counter() - t0)
            out.raise_for_status()
            body = out.json()
            while not body["done"]:
                t0 = time.perf_counter()
                out = await http.post(f"/sessions/{sid}/step", json={"action": {
                    "reply": scripted_reply(body["observation"]["messages"])}})
                lat["http"].append(time.perf_counter() - t0)
                out.raise_for_status()
                body = out.json()
            done.append((seed, body["reward"], body["observation"]["reward_terms"]))
        await http.delete(f"/sessions/{sid}")
    return done


async def prober(url: str, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """Malformed requests until ``stop``: every answer must be a 4xx or an error message."""
    import httpx
    import websockets

    bad_http = [("post", "/sessions/nope/step", {"json": {"action": {"reply": "x"}}}),
                ("post", "/sessions/nope/reset", {"content": b"{not json",
                                                  "headers": {"content-type": "application/json"}}),
                ("post", "/sessions/nope/reset", {"json": {"seed": "abc"}}),
                ("post", "/sessions/nope/step", {"content": b"x" * 400_000})]
    ws_url = url.replace("http", "ws") + "/ws"
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        sid = (await http.post("/sessions")).json()["session_id"]
        bad_http.append(("post", f"/sessions/{sid}/step", {"json": {"action": {"reply": 7}}}))
        i = 0
        while not stop.is_set():
            method, path, kwargs = bad_http[i % len(bad_http)]
            status = (await getattr(http, method)(path, **kwargs)).status_code
            counts["4xx" if 400 <= status < 500 else f"other {status}"] = \
                counts.get("4xx" if 400 <= status < 500 else f"other {status}", 0) + 1
            if i % 5 == 0:
                async with websockets.connect(ws_url) as ws:
                    for msg in ("{not json", json.dumps({"type": "jump"})):
                        await ws.send(msg)
                        reply = json.loads(await ws.recv())
                        key = "ws error" if reply.get("type") == "error" else "ws other"
                        counts[key] = counts.get(key, 0) + 1
            i += 1
            await asyncio.sleep(0.05)
        await http.delete(f"/sessions/{sid}")


async def one_round(url: str, clients: int, episodes: int, round_index: int, length: int,
                    lat: dict[str, list[float]], deadline: float
                    ) -> list[tuple[str, int, float, dict[str, float]]]:
    jobs, kinds = [], []
    for c in range(clients):
        seeds = [1000 * round_index + episodes * c + e for e in range(episodes)]
        kind = "ws" if c % 2 == 0 else "http"
        fn = ws_client if kind == "ws" else http_client
        jobs.append(fn(url, seeds, length, lat, deadline))
        kinds.append(kind)
    out = []
    for kind, played in zip(kinds, await asyncio.gather(*jobs)):
        out.extend((kind, *row) for row in played)
    return out


async def drive(url: str, args: argparse.Namespace, sampler: Sampler) -> dict[str, Any]:
    lat: dict[str, list[float]] = {"ws": [], "http": [], "reset": []}
    counts: dict[str, int] = {}
    stop = asyncio.Event()
    probe = asyncio.create_task(prober(url, stop, counts))
    deadline = time.monotonic() + args.max_seconds
    # warm-up (not timed): imports on both sides, the server's first environments
    warm = {"ws": [], "http": [], "reset": []}
    played = await one_round(url, 2, 1, 99, args.length, warm, deadline)
    rss_after, round_s = [], []
    for r in range(args.rounds):
        t_round = time.perf_counter()
        played.extend(await one_round(url, args.clients, args.episodes,
                                      0 if args.repeat_streams else r, args.length, lat,
                                      deadline))
        round_s.append(time.perf_counter() - t_round)
        await asyncio.sleep(0.5)  # let the sampler see the server between rounds
        rss_after.append(sampler.samples[-1])
    seconds = sum(round_s)  # the rounds themselves, not the pauses between them
    stop.set()
    await probe
    return {"played": played, "lat": lat, "round_s": round_s, "counts": counts, "rss_after_round": rss_after,
            "seconds": seconds, "stopped_early": time.monotonic() > deadline}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--episodes", type=int, default=4, help="per client per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--length", type=int, default=16, help="chunks per stream")
    ap.add_argument("--max-seconds", type=float, default=300.0)
    ap.add_argument("--repeat-streams", action="store_true",
                    help="every round plays the same seeds (default: new ones each round; the "
                         "episode cache, bounded at 8192 episodes, then grows with them)")
    ap.add_argument("--out", type=Path, default=RESULTS / "serve_load")
    args = ap.parse_args(argv)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-c", "from memgym.cli import app; app()", "serve", "--env", ENV,
           "--port", str(port), "--max-sessions", str(args.clients + 4)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    try:
        import httpx

        for _ in range(300):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not start: {server.stderr.read().decode()[-2000:]}")
        sampler = Sampler(server.pid)
        sampler.start()
        rss_start = rss_mib(server.pid)
        run = asyncio.run(drive(url, args, sampler))
        sampler.stop.set()
        alive = server.poll() is None
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    want = expected({seed for _, seed, _, _ in run["played"]}, args.length)
    mismatched = sum(1 for _, seed, reward, terms in run["played"]
                     if not (np.isclose(reward, want[seed][0]) and all(
                         np.isclose(terms[k], v) for k, v in want[seed][1].items())))
    steps = len(run["lat"]["ws"]) + len(run["lat"]["http"])  # timed rounds only
    rss = run["rss_after_round"]
    result = {
        "env_id": ENV, "length": args.length, "clients": args.clients,
        "episodes_per_client_round": args.episodes, "rounds": args.rounds,
        "episodes": len(run["played"]), "steps": steps,
        "mismatched_episodes": mismatched,
        "expected_episodes": args.clients * args.episodes * args.rounds + 2,
        "stopped_early": run["stopped_early"], "server_alive": alive,
        "repeat_streams": args.repeat_streams,
        "seconds": round(run["seconds"], 2), "round_seconds": [round(x, 2) for x in run["round_s"]], "steps_per_s": round(steps / run["seconds"], 1),
        "latency_ms": {("ws step" if kind == "ws" else "http step" if kind == "http" else
                        "reset (both)"): {"p50": round(1000 * float(np.percentile(v, 50)), 2),
                              "p99": round(1000 * float(np.percentile(v, 99)), 2), "n": len(v)}
                       for kind, v in run["lat"].items() if v},
        "malformed": run["counts"],
        "rss_mib": {"start": round(rss_start, 1), "after_round": [round(x, 1) for x in rss],
                    "peak": round(max(sampler.samples), 1),
                    "growth_after_round_1": round(rss[-1] / rss[0] - 1, 4)},
    }
    write(result, args.out)
    return result


def write(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    lat = result["latency_ms"]
    rss = result["rss_mib"]
    lines = [
        f"# memgym serve load test: {result['clients']} clients x {result['episodes_per_client_round']}"
        f" episodes x {result['rounds']} rounds, {result['env_id']} (length {result['length']})",
        "",
        "| request | count | p50 ms | p99 ms |", "|---|---|---|---|",
        *(f"| {k} | {v['n']} | {v['p50']} | {v['p99']} |" for k, v in lat.items()),
        "",
        f"- episodes played (with 2 warm-up ones, not timed): {result['episodes']} of "
        f"{result['expected_episodes']}"
        f"{' (stopped at --max-seconds)' if result['stopped_early'] else ''}; "
        f"mismatched vs in-process: {result['mismatched_episodes']}",
        f"- {result['steps']} steps in {result['seconds']} s ({result['steps_per_s']} steps/s)",
        f"- malformed requests answered: {result['malformed']}; server alive after: "
        f"{result['server_alive']}",
        f"- server RSS MiB: start {rss['start']}, after each round {rss['after_round']}, "
        f"peak {rss['peak']} (growth after round 1: {100 * rss['growth_after_round_1']:.1f}%; "
        f"{'the same streams every round' if result['repeat_streams'] else 'new streams every round: the episode cache, bounded at 8192 episodes, grows with them'})",
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
