// SPDX-License-Identifier: GPL-2.0-or-later

//go:build tools

// Package tools pins the commands build-cluster.sh builds, so that
// "go mod tidy" keeps their dependencies in go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
