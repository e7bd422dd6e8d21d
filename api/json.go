package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// MaxJSONBody is the largest JSON body accepted.
const MaxJSONBody = 1 << 20

// decode reads a strict JSON object into v: malformed JSON is 400
// invalid_json, a body over 1 MiB 413 body_too_large, an unknown field or a
// value of the wrong type 422 validation_failed naming the field.
func decode(c *gin.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxJSONBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return problem(http.StatusRequestEntityTooLarge, "body_too_large", "the JSON body is over 1 MiB")
		}
		return problem(http.StatusBadRequest, "invalid_json", "the body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return problem(http.StatusBadRequest, "invalid_json", "a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			field := typeErr.Field
			if field == "" {
				return problem(http.StatusBadRequest, "invalid_json", "a JSON object is required")
			}
			return invalid(map[string]string{field: "must be a " + jsonType(typeErr.Type.Kind().String())})
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalid(map[string]string{name: "is not a known field"})
		default:
			return problem(http.StatusBadRequest, "invalid_json", "the body is not valid JSON: "+err.Error())
		}
	}
	if dec.More() {
		return problem(http.StatusBadRequest, "invalid_json", "the body holds more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem(http.StatusBadRequest, "invalid_json", "the body holds more than one JSON value")
	}
	return nil
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "slice", "array":
		return "list"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	}
	return "number"
}
