#!/bin/sh
# Regenerates the Go code for Gatehouse's wire protos. Needs protoc (Debian:
# apt-get install protobuf-compiler) and protoc-gen-go
# (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12).
# Run from anywhere; output lands next to each .proto.
set -eu
cd "$(dirname "$0")"
protoc --proto_path=. --go_out=. --go_opt=paths=source_relative \
	gatehouse/ir/v1/ir.proto
