from __future__ import annotations

import pytest

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.constants import AUDIT_MESSAGE_TEXT_MAX
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.encoding import build_message
from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _settings
from ansible_collections.changeaudit.linux.plugins.plugin_utils._record import _audited


def test_mode_is_fail_or_warn():
    with pytest.raises(AnsibleError, match="fail or warn"):
        _settings.Settings(mode="ignore")


@pytest.mark.parametrize(
    "resolved, written, skipped",
    [
        ("changeaudit.linux.audited", "audited", True),
        ("ansible.builtin.copy", "copy", False),
        ("cisco.ios.ios_config", "ios_config", True),
        ("ansible.builtin.raw", "raw", True),
        # Core's controller-side actions are left out on the plugin they resolve to, not on their names.
        ("ansible.builtin.set_fact", "set_fact", False),
        # A name as written that looks like one of the collection's own is not.
        ("acme.tools.audited", "audited", False),
    ],
)
def test_skip_list_is_the_default_one_plus_the_users(resolved, written, skipped):
    settings = _settings.Settings(skip=["cisco.ios.*", "raw"])
    assert settings.skips(resolved, written) is skipped


def test_the_longest_record_without_fields_fits_with_room_for_the_trailer_and_the_kernels_prefix():
    params = _settings.worst_case_params({})
    _audited.check_before_change(params)
    text = build_message(params["op"], params["fields"])
    room = AUDIT_MESSAGE_TEXT_MAX - len(text) - _audited.TRAILER_ROOM - _audited.KERNEL_PREFIX_ROOM
    # The controller's signature (ctl_sig and ctl_mac, 165 bytes) takes its share of what was 750.
    assert room > 600, "room left for the play's own fields at the worst: %d bytes" % room


@pytest.mark.parametrize("fields", [{"ticket": "CHG-1"}, {"note": "x" * 550}, {"note": "é" * 120}])
def test_fields_that_fit_beside_the_longest_record_are_taken(fields):
    assert _settings.Settings(fields=fields).fields == fields


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"res": "success"}, "'res' is reserved"),
        ({"ticket_uid": "0"}, "ticket_uid"),
        ({"run_id": "mine"}, "names fields every change record has itself: run_id"),
        ({"withheld": "x"}, "names fields every change record has itself: withheld"),
        ({"note": float("nan")}, "note"),
        ({"note": "é" * 2000}, "too long to fit in every record"),
    ],
)
def test_fields_no_record_could_hold_are_refused_when_the_settings_are_made(fields, message):
    with pytest.raises(AnsibleError, match=message):
        _settings.Settings(fields=fields)
