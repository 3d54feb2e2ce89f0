/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
)

//go:embed templates/*.html
var templateFiles embed.FS

type pages struct{ t *template.Template }

func newPages() (*pages, error) {
	t, err := template.ParseFS(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return &pages{t: t}, nil
}

type hiddenField struct{ Name, Value string }

type scopeView struct{ Name, Description string }

// pageData feeds every template; each page uses what it needs.
type pageData struct {
	Title      string
	Action     string
	ClientName string
	Username   string
	Error      string
	Message    string
	Hidden     []hiddenField
	CSRF       string
	Scopes     []scopeView
	// UserCode is the device's user code (RFC 8628): typed on the code page, and shown on
	// the consent page for the user to compare with their device's.
	UserCode string
}

// render writes a page with the security headers every page carries. formTarget is the
// origin a form on the page may be redirected to after submission (the client's redirect
// URI): Chromium applies CSP form-action to that redirect too.
func (p *Provider) render(w http.ResponseWriter, status int, name string, data *pageData, formTarget string) {
	var buf bytes.Buffer
	if err := p.pages.t.ExecuteTemplate(&buf, name, data); err != nil {
		p.log.Error("render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	if u, err := url.Parse(formTarget); err == nil && u.Scheme != "" && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: a request to another origin (the redirect to the
	// client) still carries no Referer, while a post of our own forms carries the Origin
	// that crossSitePost checks (under no-referrer browsers send "Origin: null").
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderUnavailable shows the page of a request that needs the database while it cannot
// be reached: 503 with Retry-After, counted like the JSON answers. cause is the store's
// error.
func (p *Provider) renderUnavailable(w http.ResponseWriter, cause error) {
	e := errDatabaseUnavailable(cause)
	prepareError(w, e)
	p.renderError(w, e.HTTPStatus(), e)
}

// renderError shows an error page. It is used when the request cannot be trusted to
// redirect back (unknown client, unregistered redirect URI): RFC 6749 section 4.1.2.1.
func (p *Provider) renderError(w http.ResponseWriter, status int, e *Error) {
	p.render(w, status, "message", &pageData{Title: "Request refused", Error: e.Description, Message: "Error code: " + e.Code}, "")
}
