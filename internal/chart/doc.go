// Package chart checks the Helm chart in deploy/helm/onboarding: its test
// renders the chart with `helm template` (HELM names the binary) for the
// default values and each example values file, and decodes every document
// strictly into the Kubernetes API types.
package chart
