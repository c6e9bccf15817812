package operation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/mxauth/mxauth/matrixerr"
)

// infoKey is the context key of the operation a request belongs to.
type infoKey struct{}

// WithInfo returns ctx tagged with the operation a request is made for. The
// typed API of every generated package tags each request's context this
// way, so that an http.RoundTripper below it (such as mxauth's session) can
// read, with [InfoFrom], whether the operation takes an access token without
// being given a table.
func WithInfo(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// InfoFrom returns the operation that ctx was tagged with by [WithInfo].
func InfoFrom(ctx context.Context) (*Info, bool) {
	info, ok := ctx.Value(infoKey{}).(*Info)
	return info, ok && info != nil
}

// Tag returns ctx tagged (see [WithInfo]) with the operation id of t. It
// panics on an id that t does not hold, which only a broken generator could
// produce.
func (t *Table) Tag(ctx context.Context, id string) context.Context {
	info, ok := t.ByID(id)
	if !ok {
		panic("operation: no operation " + id)
	}
	return WithInfo(ctx, info)
}

// BearerToken returns a request editor for a generated client (pass it to
// WithRequestEditorFn) that sends "Authorization: Bearer <token>" on the
// requests of operations that take an access token, and nothing on the
// others. It knows the operation from the request's context when the typed
// API tagged it (see [WithInfo]), else by matching the request against t.
// token is asked for the current token on each such request.
func (t *Table) BearerToken(token func(ctx context.Context) (string, error)) func(ctx context.Context, req *http.Request) error {
	return func(ctx context.Context, req *http.Request) error {
		op, ok := InfoFrom(ctx)
		if !ok {
			op, ok = t.Match(req.Method, req.URL.Path)
		}
		if !ok || op.Auth == AuthNone {
			return nil
		}
		tok, err := token(ctx)
		if err != nil {
			return err
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return nil
	}
}

// JSONResult finishes a typed API call whose success carries a JSON body:
// it decodes a 2xx answer into a new T, and returns any other answer as a
// *[matrixerr.Error]. It closes the body. err is the error of sending the
// request, returned as it is.
func JSONResult[T any](resp *http.Response, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	defer closeBody(resp)
	if !isSuccess(resp) {
		return nil, matrixerr.FromResponse(resp)
	}
	out := new(T)
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("decoding the answer (HTTP %d): %w", resp.StatusCode, err)
	}
	return out, nil
}

// EmptyResult finishes a typed API call whose success carries nothing of
// use (an empty JSON object, or no body): nil for a 2xx answer, a
// *[matrixerr.Error] for any other. It closes the body.
func EmptyResult(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	defer closeBody(resp)
	if !isSuccess(resp) {
		return matrixerr.FromResponse(resp)
	}
	return nil
}

// RawResult finishes a typed API call whose success is not JSON (a media
// download, say): a 2xx answer is returned with its body open, for the
// caller to read and close; any other is a *[matrixerr.Error].
func RawResult(resp *http.Response, err error) (*http.Response, error) {
	if err != nil {
		return nil, err
	}
	if !isSuccess(resp) {
		defer closeBody(resp)
		return nil, matrixerr.FromResponse(resp)
	}
	return resp, nil
}

func isSuccess(resp *http.Response) bool { return resp.StatusCode >= 200 && resp.StatusCode < 300 }

// closeBody drains a little of what is left of the body, so that the
// connection can be reused, and closes it.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
}

// jsonContentType is the Content-Type value of JSON answers, set as a header
// map entry without the allocation of Header.Set. Its capacity is its
// length, so that a later Header.Add appends to a copy.
var jsonContentType = []string{"application/json"}

// WriteJSON sends a JSON answer for a generated strict server: the status,
// Content-Type application/json, and v as json.Encoder would write it (with
// a newline). The generator puts a call to it in place of oapi-codegen's
// Visit method bodies, which encode through a json.Encoder into a
// bytes.Buffer first.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return WriteEncodedJSON(w, status, append(body, '\n'))
}

// WriteEncodedJSON sends a JSON answer already encoded, as WriteJSON sends
// one: for a server that encodes an answer once and sends it many times.
func WriteEncodedJSON(w http.ResponseWriter, status int, body []byte) error {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}
