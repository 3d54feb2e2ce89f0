/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes is the largest request body the admin API reads.
const MaxBodyBytes = 1 << 20

// readJSON reads a JSON request body into v. The body must say it is JSON
// (Content-Type application/json, UTF-8 if a charset is named) and be at most
// MaxBodyBytes. An optional body may be left out entirely.
func readJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) *Error {
	ct := r.Header.Get("Content-Type")
	if optional && ct == "" && r.ContentLength <= 0 {
		var probe [1]byte
		if n, _ := io.ReadFull(r.Body, probe[:]); n == 0 {
			return nil
		}
		return unsupportedMediaType("")
	}
	if e := checkContentType(ct); e != nil {
		return e
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: ErrRequestTooLarge,
				Description: "the request body is larger than 1 MiB"}
		}
		return badRequest("", "the request body could not be read")
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		// RFC 8259 section 8.1; the decoder would replace the bytes and go on.
		return badRequest("", "the request body is not valid UTF-8")
	}
	if e := DecodeJSON(body, v); e != nil {
		return e
	}
	return checkBodyText(reflect.ValueOf(v), "")
}

func checkContentType(ct string) *Error {
	if ct == "" {
		return unsupportedMediaType("")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return unsupportedMediaType(ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: ErrUnsupportedMediaType,
			Description: "JSON must be UTF-8"}
	}
	return nil
}

func unsupportedMediaType(ct string) *Error {
	d := "the request body must be JSON (Content-Type: application/json)"
	if ct != "" {
		d += ", not " + truncate(ct, 100)
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Code: ErrUnsupportedMediaType, Description: d}
}

// DecodeJSON decodes exactly one JSON object into v strictly: a field v does not have is
// an error naming it, as is a value of the wrong type, trailing data, or anything but an
// object. Every error is a 400 *Error.
func DecodeJSON(data []byte, v any) *Error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return badRequest("", "the request body is empty; send a JSON object")
	}
	if trimmed[0] != '{' {
		return badRequest("", "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return badRequest("", "the request body must hold exactly one JSON value; there is more after the object")
	}
	return nil
}

// hints answer the unknown fields that people coming from other APIs send.
var hints = map[string]string{
	"scope":         `use "scopes", an array of scope names`,
	"client_secret": "secrets are generated: POST /admin/clients/{id}/secret",
	"id":            "the id is in the path",
}

func decodeError(err error) *Error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return badRequest("", "malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the JSON ends too early")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("", "the request body must be a JSON object")
		}
		kind := "another type"
		if typ.Type != nil {
			kind = jsonKind(typ.Type.Kind().String())
		}
		return badRequest(typ.Field, "%s: must be %s, not %s", typ.Field, kind, typ.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		e := badRequest(name, "unknown field %q", truncate(name, 100))
		if hint, ok := hints[name]; ok {
			e.Description += ": " + hint
		}
		return e
	}
	return badRequest("", "the request body is not valid JSON")
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "a " + kind
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
