package httpx

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3 document of every route of Handler, in YAML,
// with paths relative to where the Handler is mounted. Handler serves it at
// GET /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// OpenAPIDocument serves GET /openapi.yaml: the [OpenAPI] document,
// without authentication (it holds no secret).
func (h *Handler) OpenAPIDocument(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "GET /openapi.yaml", openAPIDocument)
}

func openAPIDocument(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(OpenAPI)
}
