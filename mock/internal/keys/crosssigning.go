package keys

import (
	"encoding/json"
	"fmt"
)

// CrossSigningKeys is the body of POST /keys/device_signing/upload: each
// key a JSON object, nil when not uploaded.
type CrossSigningKeys struct {
	Master      json.RawMessage // master_key
	SelfSigning json.RawMessage // self_signing_key
	UserSigning json.RawMessage // user_signing_key
}

// UploadCrossSigning stores the user's cross-signing keys. A key identical
// to the stored one (signatures aside) changes nothing. Replacing a stored
// key with another is allowed only with mayReplace (the handler's proof of
// user-interactive auth); without it the answer is ErrReplaceNeedsAuth and
// nothing is stored, so the handler can run UIA and call again. replaced
// reports whether a stored key was replaced. Other errors: ErrBadJSON,
// ErrOwnerMismatch (a key whose user_id is not userID), ErrMissingMasterKey.
// Any change marks the user's device list changed.
func (s *Store) UploadCrossSigning(userID string, keys CrossSigningKeys, mayReplace bool) (replaced bool, err error) {
	upload := make(map[string]*object)
	for usage, raw := range map[string]json.RawMessage{
		usageMaster: keys.Master, usageSelfSigning: keys.SelfSigning, usageUserSigning: keys.UserSigning,
	} {
		if len(raw) == 0 {
			continue
		}
		k, err := parseObject(raw)
		if err != nil {
			return false, fmt.Errorf("%s key: %w", usage, err)
		}
		if owner := k.str("user_id"); owner != userID {
			return false, fmt.Errorf("%w: %s key is for %q, the caller is %q", ErrOwnerMismatch, usage, owner, userID)
		}
		upload[usage] = k
	}

	s.mu.Lock()
	u := s.user(userID)
	if len(upload) > 0 && upload[usageMaster] == nil && u.cross[usageMaster] == nil {
		s.mu.Unlock()
		return false, ErrMissingMasterKey
	}
	for usage, k := range upload {
		if old := u.cross[usage]; old != nil && !old.sameKey(k) {
			replaced = true
		}
	}
	if replaced && !mayReplace {
		s.mu.Unlock()
		return false, ErrReplaceNeedsAuth
	}
	changed := false
	for usage, k := range upload {
		if old := u.cross[usage]; old != nil && old.sameKey(k) {
			changed = old.addAllSignatures(k) || changed
		} else {
			u.cross[usage], changed = k, true
		}
	}
	if changed {
		s.changed(userID)
	}
	s.mu.Unlock()

	if changed {
		s.notify(nil, userID)
	}
	return replaced, nil
}

// ResetCrossSigning drops the user's cross-signing keys and the signatures
// on them, as a reset by the user elsewhere would; the next upload counts
// as a first one. The user's device list is marked changed if there were
// keys.
func (s *Store) ResetCrossSigning(userID string) {
	s.mu.Lock()
	u := s.users[userID]
	had := u != nil && len(u.cross) > 0
	if had {
		clear(u.cross)
		s.changed(userID)
	}
	s.mu.Unlock()
	if had {
		s.notify(nil, userID)
	}
}

// UploadSignatures is POST /keys/signatures/upload by signerID: signed maps
// user ID, then key ID (a device ID, or a cross-signing key's public key),
// to the signed object. The signatures made by signerID are added to the
// stored key and shown by Query; other fields of the object are ignored.
// The result holds the failures by user ID then key ID: ErrBadJSON,
// ErrNoSignature, or ErrUnknownKey. Users whose keys gained a signature
// have their device lists marked changed.
func (s *Store) UploadSignatures(signerID string, signed map[string]map[string]json.RawMessage) map[string]map[string]error {
	failures := make(map[string]map[string]error)
	fail := func(userID, keyID string, err error) {
		if failures[userID] == nil {
			failures[userID] = make(map[string]error)
		}
		failures[userID][keyID] = err
	}
	var changed []string
	s.mu.Lock()
	for userID, objects := range signed {
		userChanged := false
		for keyID, raw := range objects {
			o, err := parseObject(raw)
			if err != nil {
				fail(userID, keyID, err)
				continue
			}
			sigs := o.sigs[signerID]
			if len(sigs) == 0 {
				fail(userID, keyID, fmt.Errorf("%w: %s", ErrNoSignature, signerID))
				continue
			}
			target := s.signable(userID, keyID)
			if target == nil {
				fail(userID, keyID, fmt.Errorf("%w: %s of %s", ErrUnknownKey, keyID, userID))
				continue
			}
			userChanged = target.addSignatures(signerID, sigs) || userChanged
		}
		if userChanged {
			s.changed(userID)
			changed = append(changed, userID)
		}
	}
	s.mu.Unlock()
	s.notify(nil, changed...)
	return failures
}

// signable returns the user's key that keyID names: a device with keys, or
// a cross-signing key by its public key; nil if none. s.mu must be held.
func (s *Store) signable(userID, keyID string) *object {
	u := s.users[userID]
	if u == nil {
		return nil
	}
	if d := u.devices[keyID]; d != nil && d.keys != nil {
		return d.keys
	}
	for _, k := range u.cross {
		if k.hasPublicKey(keyID) {
			return k
		}
	}
	return nil
}
