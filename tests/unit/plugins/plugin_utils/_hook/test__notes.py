from __future__ import annotations

from ansible_collections.changeaudit.linux.plugins.plugin_utils._hook import _notes, _settings


def test_the_summary_counts_each_hosts_notes_from_every_worker(tmp_path):
    settings = _settings.Settings(state_dir=str(tmp_path))
    _notes.note(settings, _notes.RECORDS_FILE, _notes.WRITTEN, "web1", "run-1")
    _notes.note(settings, _notes.RECORDS_FILE, _notes.SKIPPED, "web1", "run-1", "skip list")
    _notes.note(settings, _notes.RECORDS_FILE, _notes.UNKNOWN, "db1", "run-1", "#3 Deploy:\tgone\naway")
    assert _notes.record_counts(settings) == {
        "web1": {"written": 1, "failed": 0, "skipped": {"skip list": 1}, "unknown": [], "run_ids": ["run-1"]},
        # A tab or a newline in a detail cannot split a note.
        "db1": {"written": 0, "failed": 0, "skipped": {}, "unknown": ["#3 Deploy: gone away"], "run_ids": ["run-1"]},
    }


def test_without_a_state_directory_nothing_is_noted():
    settings = _settings.Settings()
    _notes.note(settings, _notes.RECORDS_FILE, _notes.WRITTEN, "web1", "run-1")
    assert _notes.record_counts(settings) == {}
