// Package openapi holds the conformance test of httpx's OpenAPI document:
// every route, successes and errors, validated against the document with
// kin-openapi. It is a module of its own so that kin-openapi and its
// dependencies stay out of the module graph of every program that imports
// lkgate; `make test` runs it.
package openapi
