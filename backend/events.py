"""In-process signals by which the kernel and media tell features what happened, without
knowing them (features subscribe; see ARCHITECTURE.md on the direction of imports)."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the Session; kwargs: owner_id (uuid.UUID), photo_id (str). Sent inside the unit
# of work that changed the photo, so a subscriber's writes commit (or not) with it.
photo_changed = _signals.signal("photo-changed")

# sender: the Session; kwargs: teacher_id (uuid.UUID), start_on and end_on (dates: every day
# whose secondment may have changed), what (str, e.g. "S1 extended to 2028-07-15"). Sent
# after the change is flushed, inside its unit of work.
secondment_changed = _signals.signal("secondment-changed")

# sender: the Session; kwargs: days (set of (host_school_id, date) whose stored attendance
# changed, under the old host school and the new), cause (str). Sent by the daybook after
# a recomputation changed stored days; the monthly reports re-tally what they cover.
teacher_days_changed = _signals.signal("teacher-days-changed")
