// Package llm is the proxy's inline handling of OpenAI-compatible LLM
// traffic: it reads the routing key (the JSON body's "model") without a full
// decode, buffers request bodies for inspection within a cap (decoding
// gzip/deflate for inspection while forwarding the bytes as sent), answers
// with OpenAI-style JSON errors, prepares requests for an LLM backend (API
// key from configuration, never from the client; model-name rewriting; base
// URL path) and reads token usage from responses, plain JSON or SSE streams,
// while passing them through unbuffered.
//
// Everything here runs on the request path of one request; nothing is
// shared between requests except immutable configuration.
package llm
