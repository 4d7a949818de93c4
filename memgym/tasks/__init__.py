"""Built-in tasks, one file each; importing a task module registers its ids.

Every module in this package is imported (alphabetically), so adding a task is one new file
with its ``register_task(...)`` call — no list to edit here.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
