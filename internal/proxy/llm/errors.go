package llm

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error types and codes of the OpenAI-style errors the gateway writes.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeServer         = "server_error"

	CodeMissingModel   = "missing_model"
	CodeInvalidBody    = "invalid_body"
	CodeBodyTooLarge   = "request_too_large"
	CodeBodyTimeout    = "request_timeout"
	CodeBackendInvalid = "backend_unavailable"
)

type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// WriteError answers with an OpenAI-style JSON error:
//
//	{"error":{"message":"...","type":"invalid_request_error","param":null,"code":"missing_model"}}
func WriteError(w http.ResponseWriter, status int, message, typ, code string) {
	b, _ := json.Marshal(apiError{Error: apiErrorBody{Message: message, Type: typ, Code: code}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// BodyError maps a failed model lookup to its status and OpenAI-style code.
func BodyError(state BodyState, scanErr error) (status int, message, code string) {
	switch {
	case state == BodyTooLarge:
		return http.StatusRequestEntityTooLarge, "request body is larger than the gateway inspects", CodeBodyTooLarge
	case state == BodyNone:
		return http.StatusBadRequest, "request has no body; a JSON body with a \"model\" is required", CodeMissingModel
	case state == BodyStream:
		return http.StatusBadRequest, "streaming request bodies are not inspected", CodeInvalidBody
	case state == BodyUndecodable:
		return http.StatusBadRequest, "request body could not be decoded (Content-Encoding)", CodeInvalidBody
	case scanErr == ErrNoModel:
		return http.StatusBadRequest, "you must provide a model parameter", CodeMissingModel
	case scanErr == ErrModelNotString:
		return http.StatusBadRequest, scanErr.Error(), CodeMissingModel
	}
	return http.StatusBadRequest, "request body is not a JSON object", CodeInvalidBody
}

type modelList struct {
	Object string      `json:"object"`
	Data   []modelInfo `json:"data"`
}

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// WriteModels answers GET /v1/models with the models the gateway routes,
// in the OpenAI list format.
func WriteModels(w http.ResponseWriter, models []string) {
	out := modelList{Object: "list", Data: make([]modelInfo, 0, len(models))}
	for _, m := range models {
		out.Data = append(out.Data, modelInfo{ID: m, Object: "model", OwnedBy: "gatehouse"})
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
