#!/bin/sh
# Errors carry their real cause: an image whose manifest or layer was deleted from the
# store after prepare_rootfs makes prepare_environment (and start_process, for the
# manifest) fail as a damaged image the user repairs — InvalidPackage, UserActionNeeded,
# never Retryable — naming the stage and the image and no host path; the session is left
# as it was, so that importing the image again and calling the stage again works; cleanup
# then leaves no holder and no session dir.
. "$NOOK_TEST_LIB/lib.sh"
IMG="$T/img"
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$IMG" >/dev/null || fail "mkimage.py"
STORE="$XDG_DATA_HOME/nook"
manifest=$(json_query 'j["manifest"]' <"$IMG/digests.json")
short=$(printf '%s' "$manifest" | cut -c1-19)
layer=$(json_query 'j["layers"][1][7:]' <"$IMG/digests.json")
run_nook image import --name t-real "$IMG/oci-archive.tar"
assert_eq 0 "$RC" "import: $ERR"

# refused STAGE WHAT: the last call failed with the damaged image's error.
refused() {
        assert_eq 125 "$RC" "$1 ($2): $OUT"
        assert_eq InvalidPackage "$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["kind"]')" "$1 (kind)"
        assert_eq UserActionNeeded "$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["retry"]')" \
                "$1 (retry class)"
        msg=$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["context"]["message"]')
        assert_contains "$msg" "$1: image t-real:latest ($short)" "$1 (the message names stage and image)"
        assert_contains "$msg" "$2" "$1 (the message names what is missing)"
        for p in "$XDG_DATA_HOME" "$T" /home/ /tmp/ /var/ "$HOME"; do
                assert_not_contains "$OUT" "$p" "$1 (the AgentError names a host path)"
        done
        # the CLI's human output has the hint: the command that repairs it, and where
        assert_contains "$ERR" "nook image import FILE --name t-real:latest" "$1 (the hint)"
        assert_contains "$ERR" "$STORE" "$1 (the hint names the store)"
}

# up ENV: a session on the image, up to prepare_rootfs; $SENV its environment.
up() {
        SENV="{\"environment_id\":\"$1\",\"spec\":{\"io_policy\":{\"stdout\":{\"default_capture\":\"raw_content_if_policy_allows\"}}}}"
        echo "$1" >>"$T/envs"
        call_ok prepare_session "{\"environment\":$SENV}"
        call_ok resolve_image '{"image":{"image_ref":"t-real"}}'
        call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"$manifest\",\"read_only\":false},\"environment_id\":\"$1\"}"
}

# down ENV: cleanup leaves no holder and no session dir.
down() {
        sref=$(session_ref "$1")
        session_down "$1"
        [ -z "$(holders_of "$sref")" ] || fail "a holder of $1 is left after cleanup"
        [ ! -e "$(run_dir)/$sref" ] || fail "the session dir of $1 is left after cleanup"
}

reimport() {
        run_nook image import --name t-real "$IMG/oci-archive.tar"
        assert_eq 0 "$RC" "import again: $ERR"
}

# ---- the manifest deleted between prepare_rootfs and prepare_environment ----
up "$EID-m"
rm "$STORE/images/blobs/sha256/${manifest#sha256:}"
run_nook_in "{\"environment\":$SENV}" call prepare_environment
refused prepare_environment "its manifest is missing from the store"
reimport
call_ok prepare_environment "{\"environment\":$SENV}"
run_in '["sh","-c","echo $NOOK_IMAGE_ENV"]'
assert_eq "0 from-image" "$CODE $STDOUT" "after importing again, the same session prepares and runs"
ok "a deleted manifest: InvalidPackage/UserActionNeeded naming prepare_environment and the image; import repairs"

# ---- ... and before start_process: never started without the image's config ----
rm "$STORE/images/blobs/sha256/${manifest#sha256:}"
start_in '["true"]' "" 10000
refused start_process "its manifest is missing from the store"
reimport
down "$EID-m"
ok "a deleted manifest at start_process: refused the same way; cleanup leaves nothing"

# ---- a layer dir deleted ----
up "$EID-l"
chmod -R u+rwx "$STORE/layers/$layer"
rm -rf "$STORE/layers/$layer"
run_nook_in "{\"environment\":$SENV}" call prepare_environment
refused prepare_environment "layer 1 (sha256:$(printf '%s' "$layer" | cut -c1-12)) is missing from the store"
reimport
[ -d "$STORE/layers/$layer/diff" ] || fail "importing again did not restore the layer"
call_ok prepare_environment "{\"environment\":$SENV}"
run_in '["cat","/srv/work/from-layer2"]'
assert_eq "0 layer2" "$CODE $STDOUT" "after importing again, the same session prepares and runs with the layer"
down "$EID-l"
ok "a deleted layer: refused before the holder is asked; import repairs; cleanup leaves nothing"

# the journal holds the errors without a host path either
run_nook journal --json
assert_eq 0 "$RC" "journal: $ERR"
assert_contains "$OUT" "its manifest is missing from the store" "the failure is journaled"
assert_not_contains "$OUT" "$XDG_DATA_HOME" "the journal names the data dir"
ok "the journal records the causes, without host paths"
