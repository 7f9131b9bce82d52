// Package spec loads kanaria.yaml: it decodes the Rollout documents (types
// in api/v1alpha1) with line and column positions, validates them with field
// paths, and fills in defaults. It does no I/O beyond reading the file it is
// given, and imports no kanaria package but the API types.
package spec
