// Package traffic turns a rollout's weights into real traffic in a cluster,
// and reads back what took effect. Each way of doing it is one Provider in
// its own file: kanaria's router (router.go), Gateway API HTTPRoute weights
// (gatewayapi.go), and the ratio of canary pods to all pods (replicas.go).
// Each declares what it can do instead of having methods that silently do
// nothing, and each reads back what it set, so the engine moves on only
// once the weights are real. It knows nothing of platforms: what it routes
// to arrives as a Backend of Service URLs.
//
// routerlease.go is the format router replicas publish what they applied
// in; the router's Kubernetes mode imports it from here.
package traffic
