// Package httpstatus remembers the status an HTTP handler answered, for the
// one-line request logs of the portal and the FHIR server.
package httpstatus

import "net/http"

// Writer is a ResponseWriter that remembers its status (200 until
// WriteHeader says otherwise).
type Writer struct {
	http.ResponseWriter
	Status int
}

// New wraps w.
func New(w http.ResponseWriter) *Writer { return &Writer{ResponseWriter: w, Status: http.StatusOK} }

// WriteHeader records code and sends it.
func (w *Writer) WriteHeader(code int) {
	w.Status = code
	w.ResponseWriter.WriteHeader(code)
}
