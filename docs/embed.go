// Package docs embeds the generated OpenAPI description of healthd's REST routes
// (docs/static/openapi.json, written by `make proto-gen`) and serves it from the
// node's API server.
package docs

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/gorilla/mux"

	sdkdocs "github.com/cosmos/cosmos-sdk/client/docs"
)

//go:embed static/openapi.json
var static embed.FS

// OpenAPI returns the generated OpenAPI (Swagger 2.0) description of every REST
// route the node serves.
func OpenAPI() []byte {
	b, err := static.ReadFile("static/openapi.json")
	if err != nil {
		// The file is embedded at build time; a missing file fails the build.
		panic(err)
	}
	return b
}

// RegisterOpenAPIRoutes serves the description at /openapi.json and a browsable
// Swagger UI at /swagger/ (the SDK's embedded UI, pointed at healthd's description
// instead of the SDK's own).
func RegisterOpenAPIRoutes(r *mux.Router) {
	spec := OpenAPI()
	serveSpec := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(spec)
	}
	r.HandleFunc("/openapi.json", serveSpec).Methods(http.MethodGet)
	// The UI's index.html loads "swagger.yaml" from its own folder; JSON is valid
	// YAML, so this route answers it with healthd's description. It is registered
	// before the static handler so that it wins.
	r.HandleFunc("/swagger/swagger.yaml", serveSpec).Methods(http.MethodGet)
	if ui, err := fs.Sub(sdkdocs.SwaggerUI, "swagger-ui"); err == nil {
		r.PathPrefix("/swagger/").Handler(http.StripPrefix("/swagger/", http.FileServer(http.FS(ui))))
	}
}
