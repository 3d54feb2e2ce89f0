package oauth

import (
	"github.com/golang-jwt/jwt/v5"
)

// idTokenHintAudience returns the client an ID token of this server was issued to. The
// token may have expired (OIDC RP-Initiated Logout section 2), but its signature and
// issuer must be ours; anything else yields "".
func (p *Provider) idTokenHintAudience(token string) string {
	var claims jwt.RegisteredClaims
	parser := jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithValidMethods([]string{"ES256", "RS256"}))
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, ok := p.keys.Lookup(kid)
		if !ok || key.Algorithm != t.Method.Alg() {
			return nil, jwt.ErrTokenUnverifiable
		}
		return key.Private.Public(), nil
	})
	if err != nil || claims.Issuer != p.cfg.Issuer || len(claims.Audience) != 1 {
		return ""
	}
	return claims.Audience[0]
}
