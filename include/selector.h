/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Label selector matching (metav1.LabelSelector semantics): matchLabels AND
 * matchExpressions with In, NotIn, Exists and DoesNotExist, where NotIn and
 * DoesNotExist match objects lacking the key. Pure, allocation-free.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

/* Whether s matches the label map l. An empty selector matches everything. */
bool selector_matches(const struct selector *s, const struct labels *l);

/* Whether s has neither matchLabels nor matchExpressions (matches all). */
bool selector_is_empty(const struct selector *s);

/* Structural equality (labels and expressions in order, values sorted). */
bool selector_equal(const struct selector *a, const struct selector *b);

/* A hash consistent with selector_equal (for deduplication). */
uint64_t selector_hash(const struct selector *s);

/*
 * Equality-based selector (a Service's spec.selector): every key=value of
 * sel is in l. An empty map matches everything.
 */
bool selector_labels_match(const struct labels *sel, const struct labels *l);

/* Deep copy of src into dst (dst is overwritten). 0 or -ENOMEM (dst left empty). */
int selector_copy(struct selector *dst, const struct selector *src);
