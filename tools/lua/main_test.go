package main

import "testing"

// `go test ./...` in tools/lua runs the repository's Argo CD health checks.
func TestArgoCDHealthChecks(t *testing.T) {
	dirs, err := KindDirs("../../deploy/argocd/resource_customizations")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		lines, failures, err := CheckKind(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			t.Log(l)
		}
		for _, f := range failures {
			t.Error(f)
		}
	}
}

// The timeout stops a script that never returns, as Argo CD's does.
func TestTimeout(t *testing.T) {
	_, err := RunHealth("while true do end", map[string]any{})
	if err == nil {
		t.Fatal("an endless script was not stopped")
	}
}

// Only base, table and string are opened.
func TestNoOsOrIo(t *testing.T) {
	hs, err := RunHealth(`return {status = (os == nil and io == nil) and "Healthy" or "Degraded"}`, map[string]any{})
	if err != nil || hs.Status != "Healthy" {
		t.Fatalf("os or io is reachable: %v %v", hs, err)
	}
}
