"""Every route module's handlers, in one list for create_app.

Each module in this package that defines `handlers` is one part of the product; adding a part is adding
a module (helpers such as forms.py and mail_links.py define none and are skipped).
"""

import importlib
import pkgutil

MODULES = [
    module
    for module in (importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__))
    if hasattr(module, "handlers")
]

ROUTE_HANDLERS = [handler for module in MODULES for handler in module.handlers]
