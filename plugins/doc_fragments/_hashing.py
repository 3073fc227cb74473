# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.

from __future__ import annotations


# The variable and environment names are those of plugin_utils/_hashing.py;
# tests/unit/plugins/doc_fragments/test_docs_match_specs.py checks that they agree.
class ModuleDocFragment:
    DOCUMENTATION = r"""
notes:
  - B(Hashes are keyed.) A value the record holds as a hash (a C(no_log) value, a diff, a field named in
    C(hash_fields)) is written as C(hmac-sha256:<key id>:<hex>), an HMAC-SHA256 under a key the operator provides,
    so that nobody who reads C(audit.log) can recover a short secret by trying candidates. The key, first found
    wins, is the variable C(changeaudit_hash_key) (vault it), the environment variable E(CHANGEAUDIT_HASH_KEY), or
    the file named by the variable C(changeaudit_hash_key_file) or E(CHANGEAUDIT_HASH_KEY_FILE) (mode 0600); at
    least 16 bytes. The key id is the first 16 hex digits of the HMAC of C(changeaudit.linux hash key id) under
    the key, so an auditor holding several keys knows which one verifies a value.
  - Without a key, a C(no_log) record holds the argument names only and names the values it left out in
    C(withheld); C(hash_fields) is refused before anything runs, unless the operator accepts plain C(sha256:<hex>)
    with C(changeaudit_unkeyed_hashes=true) or E(CHANGEAUDIT_UNKEYED_HASHES=true).
"""
