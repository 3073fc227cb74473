# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.

from __future__ import annotations


# The variable and environment names are those of plugin_utils/_record/_hashing.py; the docs tests check that they agree.
# ansible-core refuses a fragment without options (or attributes): this one adds notes only, so its options are empty.
class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
notes:
  - B(Value hashes are keyed.) A hash the record holds is C(hmac-sha256:<key id>:<hex>) under the operator's key
    (at least 32 bytes of text, such as C(openssl rand -hex 32), or 16 random bytes in a file; a key of fewer than
    8 different bytes or of one piece repeated is refused), made on the controller. The key is the variable
    C(changeaudit_hash_key) (vault it), else E(CHANGEAUDIT_HASH_KEY), else the 0600 file named by
    C(changeaudit_hash_key_file) or E(CHANGEAUDIT_HASH_KEY_FILE); the variables are never taken from a host's
    facts (a fact of that name is ignored, with a warning). Without one, C(no_log) values are left out and named in C(withheld), and
    C(hash_fields) is refused unless C(changeaudit_unkeyed_hashes=true) or E(CHANGEAUDIT_UNKEYED_HASHES=true)
    accepts plain C(sha256:<hex>). The key id is the first 16 hex digits of the HMAC of
    C(changeaudit.linux hash key id) under the key. See the record limits guide for verifying and rotating.
"""
