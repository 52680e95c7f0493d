"""Every route module's handlers, in one list for create_app.

Routes live in one package per domain (`app/routes/<domain>/<audience>.py`); each module that defines
`handlers` is collected here, so adding a page is adding it to its module's list (helpers such as
forms.py define none and are skipped).
"""

import importlib
import pkgutil

MODULES = [
    module
    for module in (
        importlib.import_module(info.name) for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}.")
    )
    if hasattr(module, "handlers")
]

ROUTE_HANDLERS = [handler for module in MODULES for handler in module.handlers]
