package oauth2

//go:generate go run github.com/mxauth/mxauth/cmd/generate -config mxauth.yaml
