/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manifest-directory source: a folder of *.yaml, *.yml and *.json files
 * (the same manifests kubectl applies, or a `kubectl get -o yaml` dump) kept
 * in step with an engine. Only files whose contents changed are decoded
 * again; objects that vanished from the folder are deleted from the engine.
 * Shared by netpold (manifest mode, re-synced on inotify events) and by
 * netpolctl's offline mode. Never logs: diagnostics go to the callback.
 */
#pragma once

#include "decode.h"
#include "engine.h"

#define MANIFEST_DIR_MAX_FILES 10000

struct manifest_dir;

/* Remember path; reads nothing yet. Returns 0 or -ENOMEM. */
int manifest_dir_new(const char *path, struct manifest_dir **ret);
void manifest_dir_free(struct manifest_dir *md);
const char *manifest_dir_path(const struct manifest_dir *md);

/*
 * Re-read the folder (non-recursive, files in name order; hidden files and
 * other suffixes are skipped) and bring e to exactly the objects it holds:
 * new or changed objects are applied, objects no longer present are deleted.
 * When two files define the same object, the later file in name order wins.
 * Rejected objects and unreadable files are reported through diag (which may
 * be NULL); an object that was valid before and is now rejected keeps its
 * last valid version in the engine (a bad edit never opens what the previous
 * version closed). Returns the number of
 * engine updates made (0: nothing changed), or -errno if the folder itself
 * cannot be read (the engine is then left untouched).
 */
int manifest_dir_sync(struct manifest_dir *md, struct engine *e,
		      void (*diag)(void *ud, const struct decode_diag *d), void *ud);

/* The kinds the last sync applied or deleted in the engine, as 1u << enum obj_kind. */
unsigned manifest_dir_changed_kinds(const struct manifest_dir *md);

/* Diagnostics of the last sync that are still standing (one per rejected object). */
size_t manifest_dir_n_errors(const struct manifest_dir *md);
