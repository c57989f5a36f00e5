"""The sync engine (kept as an import path): the core lives in core.py, each resource in its module.

core.py       SyncEngine (driver, checkpoints, problems), ResourceSync, register_resource
contacts.py   ContactSync      lists.py   ListSync      templates.py   TemplateSync
"""

from .contacts import ContactSync
from .core import ResourceSync, SyncEngine, register_resource, registered_resources
from .lists import ListSync

__all__ = [
    "ContactSync",
    "ListSync",
    "ResourceSync",
    "SyncEngine",
    "register_resource",
    "registered_resources",
]
