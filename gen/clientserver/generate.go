package clientserver

//go:generate go run github.com/mxauth/mxauth/cmd/generate -config mxauth.yaml
