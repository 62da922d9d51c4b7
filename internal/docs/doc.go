// Package docs holds the test that reads README.md, docs/*.md and the
// package docs and checks what they state against the code: the tests
// they cite, the routes and status codes, the environment variables and
// the LiveKit call counts of README's cost table.
package docs
