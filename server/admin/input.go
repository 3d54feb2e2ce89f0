/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Length limits of what a request may carry, in bytes. Identifiers are short (client ids
// up to 128 characters, scope names 200, user ids 36); a body's strings are names,
// descriptions, URIs and passwords.
const (
	maxTokenLen      = 16 << 10
	maxIdentifierLen = 512
	maxQueryLen      = 1024
	maxStringLen     = 8 << 10
)

// badText says what is wrong with s as text the API may store, compare or show, or "":
// longer than limit, not UTF-8, or holding a NUL byte, which Postgres refuses in text.
// With identifier set, any other control character but tab is refused too; free text
// (descriptions) may hold line breaks.
func badText(s string, limit int, identifier bool) string {
	if len(s) > limit {
		return "is longer than " + strconv.Itoa(limit) + " bytes"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 {
			return "contains a NUL byte"
		}
		if identifier && ((c < 0x20 && c != '\t') || c == 0x7f) {
			return "contains a control character"
		}
	}
	return ""
}

// pathWildcards are the wildcards of the API's routes.
var pathWildcards = []string{"id", "name"}

// checkRequestText refuses, before a handler reads them, path values and query parameters
// that are not text (see badText), so that none reaches the store.
func checkRequestText(r *http.Request) *Error {
	for _, name := range pathWildcards {
		if reason := badText(r.PathValue(name), maxIdentifierLen, true); reason != "" {
			return badRequest(name, "the %s in the path %s", name, reason)
		}
	}
	q := r.URL.Query()
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if reason := badText(name, maxIdentifierLen, true); reason != "" {
			return badRequest("", "a query parameter name %s", reason)
		}
		for _, v := range q[name] {
			if reason := badText(v, maxQueryLen, true); reason != "" {
				return badRequest(name, "%s %s", name, reason)
			}
		}
	}
	return nil
}

// checkBodyText refuses a decoded request body with a string that is not text (see
// badText), naming its field as JSON does ("redirect_uris[0]").
func checkBodyText(v reflect.Value, field string) *Error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkBodyText(v.Elem(), field)
	case reflect.String:
		if reason := badText(v.String(), maxStringLen, false); reason != "" {
			return badRequest(field, "%s %s", field, reason)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if e := checkBodyText(v.Index(i), fmt.Sprintf("%s[%d]", field, i)); e != nil {
				return e
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if field != "" {
				name = field + "." + name
			}
			if e := checkBodyText(v.Field(i), name); e != nil {
				return e
			}
		}
	}
	return nil
}
