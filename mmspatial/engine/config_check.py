"""Catch ``--cfg-options`` keys that do not exist before they silently create new, unused config keys.

``Config.merge_from_dict`` creates whatever path it is given: ``model.backbone.dpeth=50`` adds a key
that the builder then rejects with a TypeError (at best), and ``train_dataloder.batch_size=8`` or
``optim_wrapper.optimizer.lrr=0.1`` add keys that nothing reads, so the run trains with the old value.
:func:`check_cfg_options` rejects, naming the key and suggesting close matches:

* a key whose parent path does not exist (``train_dataloder.batch_size``), or runs into a value that is
  not a dict/list (``model.backbone.depth.x``), or a list index out of range;
* a new leaf key that is a near-typo of an existing sibling (``lrr`` next to ``lr``).

A new leaf under an existing dict with no close sibling (``model.backbone.frozen_stages=4``) is
allowed: it is how optional constructor arguments are set, and the builder names it if the class does
not accept it.
"""
import difflib
from typing import Any, Iterable, List, Mapping, Optional

__all__ = ['UnknownConfigKeyError', 'check_cfg_options']


class UnknownConfigKeyError(KeyError):
    """An ``--cfg-options`` key that does not exist in the config."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


def _close(name: str, candidates: Iterable[Any], n: int = 3) -> List[str]:
    names = [str(c) for c in candidates]
    close = difflib.get_close_matches(name, names, n=n, cutoff=0.75)
    close += [c for c in names if c not in close and c.lower() == name.lower()]  # case slips
    return close


def _hint(matches: List[str], prefix: str) -> str:
    if not matches:
        return ''
    return ' Did you mean ' + ' or '.join(repr(prefix + m) for m in matches) + '?'


def _is_dict(node: Any) -> bool:
    return isinstance(node, Mapping) or (hasattr(node, 'keys') and hasattr(node, '__getitem__'))


def _check_one(cfg: Mapping, key: str) -> Optional[str]:
    """An error message for ``key`` (dotted path) or None if it may be merged."""
    parts = key.split('.')
    node: Any = cfg
    for depth, part in enumerate(parts):
        path = '.'.join(parts[:depth])
        prefix = path + '.' if path else ''
        last = depth == len(parts) - 1
        if isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                return (f'--cfg-options {key}: {path!r} is a list of {len(node)} items; '
                        f'{part!r} is not a valid index (0..{len(node) - 1}).')
            node = node[int(part)]
            continue
        if not _is_dict(node):
            value = repr(node) if len(repr(node)) < 60 else repr(node)[:57] + '...'
            return (f'--cfg-options {key}: {path!r} is {type(node).__name__} ({value}), not a dict, so '
                    f'it has no key {part!r}.')
        if part in node:
            node = node[part]
            continue
        matches = _close(part, node.keys())
        if not last:
            where = f'under {path!r}' if path else 'at the top level of the config'
            return (f'--cfg-options {key}: there is no key {part!r} {where}, so {key!r} would create a '
                    f'new, unused section.{_hint(matches, prefix)}')
        if matches:
            return (f'--cfg-options {key}: {key!r} does not exist in the config (a typo would add a '
                    f'new key that nothing reads).{_hint(matches, prefix)}')
        return None
    return None


def check_cfg_options(cfg: Mapping, cfg_options: Optional[Mapping[str, Any]]) -> None:
    """Raise :class:`UnknownConfigKeyError` naming every bad key of ``cfg_options`` (see module doc)."""
    if not cfg_options:
        return
    errors = [msg for key in cfg_options if (msg := _check_one(cfg, key)) is not None]
    if errors:
        raise UnknownConfigKeyError('\n'.join(errors) +
                                    '\n(To add new config keys on purpose, pass --no-strict-cfg-options.)')
