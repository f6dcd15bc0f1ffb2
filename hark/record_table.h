/* record_table.h - an audit record as a table row (`hark query`).
 *
 * Fixed-width columns; bytes that are not printable ASCII are shown as
 * \xHH so a record cannot drive the terminal, and fields too long for
 * their column end in "...".
 */
#ifndef HARK_RECORD_TABLE_H
#define HARK_RECORD_TABLE_H

#include "frame.h"

#include <stddef.h>

/* Both write a line with its newline into buf as snprintf does and
 * return the length it needed. */
int record_table_header(char *buf, size_t size);
int record_table_row(char *buf, size_t size, const struct audit_record *r);

#endif
