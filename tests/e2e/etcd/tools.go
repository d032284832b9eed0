// SPDX-License-Identifier: GPL-2.0-or-later

//go:build tools

// Package tools pins the etcd command (the main package at the root of
// go.etcd.io/etcd/server/v3) so that "go mod tidy" keeps its dependencies.
package tools

import _ "go.etcd.io/etcd/server/v3"
