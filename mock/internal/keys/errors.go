package keys

import "errors"

// Errors returned by the Store, matched with errors.Is. Each comment names
// the Matrix error a handler should answer with. Returned errors may wrap
// them with detail.
var (
	// ErrBadJSON: a key, signed object or message content is not a JSON
	// object of the expected shape (400 M_BAD_JSON).
	ErrBadJSON = errors.New("not a JSON object of the expected shape")
	// ErrOwnerMismatch: uploaded keys name another user or device than
	// the caller's (400 M_INVALID_PARAM).
	ErrOwnerMismatch = errors.New("keys belong to another user or device")
	// ErrBadKeyID: a one-time or fallback key ID is not "algorithm:id"
	// (400 M_INVALID_PARAM).
	ErrBadKeyID = errors.New(`key ID is not "algorithm:id"`)
	// ErrKeyExists: a one-time key ID was uploaded again with other
	// content (400 M_INVALID_PARAM).
	ErrKeyExists = errors.New("one-time key already exists with other content")
	// ErrMissingMasterKey: a self-signing or user-signing key was uploaded
	// while the user has no master key (400 M_MISSING_PARAM).
	ErrMissingMasterKey = errors.New("no master key to go with this key")
	// ErrReplaceNeedsAuth: the upload would replace cross-signing keys;
	// the caller must complete user-interactive auth and upload again
	// with mayReplace (401 with the UIA flows). Nothing was stored.
	ErrReplaceNeedsAuth = errors.New("replacing cross-signing keys needs user-interactive auth")
	// ErrUnknownKey: signatures/upload named a device or cross-signing key
	// the user does not have (a per-key failure, M_NOT_FOUND).
	ErrUnknownKey = errors.New("no such key")
	// ErrNoSignature: a signed object in signatures/upload carries no
	// signature by the uploader (a per-key failure, M_INVALID_SIGNATURE).
	ErrNoSignature = errors.New("no signature by the uploader")
	// ErrNoBackup: no such key backup version, or no backup at all
	// (404 M_NOT_FOUND).
	ErrNoBackup = errors.New("no such key backup")
	// ErrBackupMismatch: a backup update names another version or
	// algorithm than the backup it updates (400 M_INVALID_PARAM).
	ErrBackupMismatch = errors.New("version or algorithm differs from the backup's")
)
