"""In-process signals by which the kernel and media tell features what happened, without
knowing them (features subscribe; see ARCHITECTURE.md on the direction of imports)."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the Session; kwargs: owner_id (uuid.UUID), photo_id (str). Sent inside the unit
# of work that changed the photo, so a subscriber's writes commit (or not) with it.
photo_changed = _signals.signal("photo-changed")
