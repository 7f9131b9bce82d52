// Package routersync is what `kanaria router --kubernetes` runs: it keeps a
// router's table equal to what the API server says, and tells the controller
// what it applied.
//
// The controller's router traffic provider writes each Rollout's desired
// assignment into status.traffic: stable, canary and baseline as Service URLs
// (http://<service>.<namespace>.svc:<port>) with their revisions, ppm weights
// and a generation. A Syncer watches those Rollouts and the EndpointSlices of
// the Services, and builds one router.Config from them (table.go):
//
//   - one release per Rollout, named "<namespace>.<name>"
//     (traffic.RouterReleaseName), whose backends are the ready addresses
//     of the role's Service, each with the port the Service port's name
//     maps to in its EndpointSlice (the
//     endpoint-slice controller names slice ports after Service ports, and
//     resolves a named targetPort per pod, which only the slice knows);
//   - a role whose Service has no ready address gets no weight (sending users
//     to nothing only produces errors), and a Rollout whose stable role has
//     none is left out;
//   - routes from spec.route (hosts, pathPrefix); when two Rollouts claim the
//     same host and path prefix the older one keeps it, as an ingress
//     controller resolves conflicts; the router takes one stickiness key for
//     all (keyHeader or keyCookie of the oldest Rollout that names one);
//   - the salt from a Secret (key "salt"), the same for every replica, so each
//     replica puts a user in the same bucket. The first replica to find it
//     missing creates it with a random value; the others read that one.
//
// The table is swapped in with one router.Update, then published in the
// replica's own coordination.k8s.io Lease (sync.go; name, label and the
// annotation's JSON are internal/traffic's routerlease.go, shared with the
// controller, which counts a replica only while it renews its Lease).
//
// Only what the table needs is watched: Services and EndpointSlices labelled
// kanaria.dev/rollout (the platform labels its Services so, and the
// endpoint-slice controller copies a Service's labels onto its slices),
// EndpointSlices also by kubernetes.io/service-name, the salt Secret by its
// name, and of a Rollout only its name, age, spec.route and status.traffic
// are kept in memory.
package routersync
