#!/bin/sh
. "$NOOK_TEST_LIB/lib.sh"
fail "not written yet"
