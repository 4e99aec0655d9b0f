#!/usr/bin/env bash
# keel-remote --dry-run prints the exact command sequence and runs nothing: checked line by line for
# the gcloud transport (run, create, provision, start, stop), the plain-SSH transport, plus help and
# usage errors. A recording gcloud stand-in on PATH proves that a dry run calls nothing.
set -u
# shellcheck source=tests/remote/lib.sh
source "$(dirname "$0")/lib.sh"

make_inputs
export KEEL_STANDIN_LOG=$TMP/gcloud.calls KEEL_STANDIN_STATE=$TMP/vm.state
export PATH="$REPO/tests/remote/standin:$PATH"
unset KEEL_REMOTE_INSTANCE KEEL_REMOTE_ZONE KEEL_REMOTE_PROJECT KEEL_REMOTE_HOST KEEL_REMOTE_DIR \
  KEEL_REMOTE_PRICE_PER_HOUR KEEL_REMOTE_SHUTDOWN_AFTER

D=$TMP/data
C=$TMP/cnn.yaml
O=$TMP/out
SSHF='--ssh-flag=-oBatchMode=yes --ssh-flag=-oPasswordAuthentication=no --ssh-flag=-oServerAliveInterval=15 --ssh-flag=-oServerAliveCountMax=4'
SCPF='--scp-flag=-oBatchMode=yes --scp-flag=-oPasswordAuthentication=no --scp-flag=-oServerAliveInterval=15 --scp-flag=-oServerAliveCountMax=4'
LOC='--zone=us-west1-b'
calls() { if [ -f "$KEEL_STANDIN_LOG" ]; then wc -l <"$KEEL_STANDIN_LOG"; else echo 0; fi; }

echo "run --dry-run, gcloud transport"
rc=0
"$KR" run --dry-run --instance keel-t4 --zone us-west1-b --config "$C" --data "$D" --out "$O" \
  --run-id t1 --set train.epochs=3 >"$TMP/plan" 2>"$TMP/plan.err" || rc=$?
check "exit 0" eq "$rc" 0
start="gcloud compute instances start keel-t4 $LOC"
arm="gcloud compute ssh keel-t4 $LOC $SSHF '--command=sudo -n shutdown -h +120'"
sync_data="gcloud compute scp $LOC $SCPF --recurse --compress $D keel-t4:keel/data"
sync_cfg="gcloud compute scp $LOC $SCPF $C keel-t4:keel/runs/t1/cnn.yaml"
job="gcloud compute ssh keel-t4 $LOC $SSHF '--command=set -- keel/repo/build/bin/titanic_train --config keel/runs/t1/cnn.yaml --data keel/data --out keel/runs/t1/out --set train.epochs=3; echo \$\$ > keel/runs/t1/pid; if command -v stdbuf >/dev/null 2>&1; then exec stdbuf -oL -eL \"\$@\"; fi; exec \"\$@\"'"
fetch="gcloud compute scp $LOC $SCPF --recurse --compress keel-t4:keel/runs/t1/out $O.partial"
stop="gcloud compute instances stop keel-t4 $LOC"
check "prints the start line" has_line "$TMP/plan" "$start"
check "prints the timer line" has_line "$TMP/plan" "$arm"
check "prints the data sync line" has_line "$TMP/plan" "$sync_data"
check "prints the config sync line" has_line "$TMP/plan" "$sync_cfg"
check "prints the run line" has_line "$TMP/plan" "$job"
check "prints the fetch line" has_line "$TMP/plan" "$fetch"
check "prints the stop line" has_line "$TMP/plan" "$stop"
check "order: start, timer, sync, run, fetch, stop" \
  in_order "$TMP/plan" "$start" "$arm" "$sync_data" "$sync_cfg" "$job" "$fetch" "$stop"
check "stop is the last line" eq "$(tail -n1 "$TMP/plan")" "$stop"
check "stdout holds only commands" eq "$(grep -vc '^gcloud ' "$TMP/plan")" 0
check "the cost guard shows the price" has_text "$TMP/plan.err" "cost guard: \$0.54/h"
check "nothing was called" eq "$(calls)" 0
check "no out folder was made" test ! -e "$O" -a ! -e "$O.partial"

echo "run --dry-run with --project, --iap, --keep, --shutdown-after, --price-per-hour"
rc=0
"$KR" run --dry-run --instance keel-t4 --zone=us-west1-b --project my-proj --iap --keep \
  --shutdown-after 45 --price-per-hour 0.2 --config "$C" --data "$D" --out "$O" --run-id t2 \
  >"$TMP/plan2" 2>"$TMP/plan2.err" || rc=$?
check "exit 0" eq "$rc" 0
check "the project is passed" has_line "$TMP/plan2" "gcloud compute instances start keel-t4 --zone=us-west1-b --project=my-proj"
check "ssh goes through IAP" has_text "$TMP/plan2" "--ssh-flag=-oServerAliveCountMax=4 --tunnel-through-iap '--command=sudo -n shutdown -h +45'"
check "scp goes through IAP" has_text "$TMP/plan2" "--scp-flag=-oServerAliveCountMax=4 --tunnel-through-iap --recurse"
check "--keep: no stop" lacks_text "$TMP/plan2" "instances stop"
check "--keep: the timer is re-armed last" eq "$(tail -n1 "$TMP/plan2" | grep -c "'--command=sudo -n shutdown -h +45'")" 1
check "the worst case cost uses the price" has_text "$TMP/plan2.err" "cost guard: \$0.2/h; the on-VM timer powers it off after 45 min at the latest (at most \$0.15"

echo "run --dry-run, plain SSH transport"
rc=0
"$KR" run --dry-run --host ubuntu@203.0.113.7 --port 2222 --identity "$C" --config "$C" --data "$D" \
  --out "$O" --run-id t3 --remote-dir /srv/keel --remote-bin /opt/keel/bin --sync rsync \
  >"$TMP/plan3" 2>/dev/null || rc=$?
check "exit 0" eq "$rc" 0
SSHO="-p 2222 -o BatchMode=yes -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o StrictHostKeyChecking=accept-new -o ConnectTimeout=15 -o ServerAliveInterval=15 -o ServerAliveCountMax=4 -o ForwardAgent=no -o ForwardX11=no -i $C -o IdentitiesOnly=yes"
check "the sequence is prep, rsync data, rsync config, run, rsync back" in_order "$TMP/plan3" \
  "ssh $SSHO ubuntu@203.0.113.7 'test -x /opt/keel/bin/titanic_train ||" \
  "rsync -a --delete -e 'ssh $SSHO' $D/ ubuntu@203.0.113.7:/srv/keel/data/" \
  "rsync -a -e 'ssh $SSHO' $C ubuntu@203.0.113.7:/srv/keel/runs/t3/cnn.yaml" \
  "ssh $SSHO ubuntu@203.0.113.7 'set -- /opt/keel/bin/titanic_train --config /srv/keel/runs/t3/cnn.yaml" \
  "rsync -a -e 'ssh $SSHO' ubuntu@203.0.113.7:/srv/keel/runs/t3/out/ $O.partial/"
check "a --host machine is not powered off by default" lacks_text "$TMP/plan3" "shutdown"
check "never asks for a password" lacks_text "$TMP/plan3" "PasswordAuthentication=yes"

rc=0
"$KR" run --dry-run --host ubuntu@203.0.113.7 --power-off --sync scp --config "$C" --data "$D" \
  --out "$O" --run-id t4 >"$TMP/plan4" 2>/dev/null || rc=$?
check "--power-off: exit 0" eq "$rc" 0
check "--power-off: timer armed first, powered off last, scp used" in_order "$TMP/plan4" \
  "ubuntu@203.0.113.7 'sudo -n shutdown -h +120'" "&& rm -rf keel/data'" "-r $D ubuntu@203.0.113.7:keel/data" \
  "titanic_train --config" "-r ubuntu@203.0.113.7:keel/runs/t4/out $O.partial" \
  "ubuntu@203.0.113.7 'sudo -n shutdown -h now'"

echo "create, provision, start, stop, status --dry-run"
rc=0
"$KR" create --dry-run --instance keel-t4 --zone us-west1-b --spot --max-run-duration 4h \
  --no-external-ip --shutdown-after 90 >"$TMP/create" 2>"$TMP/create.err" || rc=$?
check "create: exit 0" eq "$rc" 0
check "create: the exact gcloud command" has_line "$TMP/create" \
  "gcloud compute instances create keel-t4 $LOC --machine-type=n1-standard-4 --accelerator=type=nvidia-tesla-t4,count=1 --maintenance-policy=TERMINATE --image-family=common-cu128-ubuntu-2404-nvidia-570 --image-project=deeplearning-platform-release --boot-disk-size=100GB --metadata=install-nvidia-driver=True --labels=app=keel --provisioning-model=SPOT --max-run-duration=4h --instance-termination-action=STOP --no-address"
check "create: then arms the timer" eq "$(tail -n1 "$TMP/create")" "gcloud compute ssh keel-t4 $LOC $SSHF '--command=sudo -n shutdown -h +90'"
check "create: not stopped after success" lacks_text "$TMP/create" "instances stop"

rc=0
"$KR" provision --dry-run --instance keel-t4 --zone us-west1-b >"$TMP/prov" 2>/dev/null || rc=$?
check "provision: exit 0" eq "$rc" 0
check "provision: pack, start, timer, copy, unpack, packages, build, stop" in_order "$TMP/prov" \
  "git -C $REPO ls-files -z --cached --others --exclude-standard | tar -czf" \
  "$start" "$arm" \
  "keel-src.tar.gz keel-t4:keel/keel-src.tar.gz" \
  "tar --warning=no-unknown-keyword -xzf keel/keel-src.tar.gz -C keel/repo.new" \
  "apt-get install -y -q --no-install-recommends build-essential cmake" \
  "cmake --preset default -DKEEL_BUILD_TESTS=OFF -DKEEL_BUILD_BENCHMARKS=OFF; cmake --build --preset default --target titanic_train" \
  "$stop"

rc=0
"$KR" start --dry-run --instance keel-t4 --zone us-west1-b --shutdown-after 0 >"$TMP/start" 2>/dev/null || rc=$?
check "start --shutdown-after 0: exit 0" eq "$rc" 0
check "start --shutdown-after 0: starts, then cancels the timer" in_order "$TMP/start" "$start" "'--command=sudo -n shutdown -c'"
check "start: does not stop" lacks_text "$TMP/start" "instances stop"
rc=0
"$KR" stop --dry-run --instance keel-t4 --zone us-west1-b >"$TMP/stop" 2>/dev/null || rc=$?
check "stop: exit 0, one line" eq "$rc:$(cat "$TMP/stop")" "0:$stop"
rc=0
"$KR" status --dry-run --instance keel-t4 --zone us-west1-b >"$TMP/status" 2>/dev/null || rc=$?
check "status: describes the VM" has_line "$TMP/status" "gcloud compute instances describe keel-t4 $LOC '--format=value(status,lastStartTimestamp)'"
rc=0
"$KR" ssh --dry-run --instance keel-t4 --zone us-west1-b -- nvidia-smi -L >"$TMP/ssh" 2>/dev/null || rc=$?
check "ssh -- CMD: one gcloud compute ssh line" eq "$rc:$(cat "$TMP/ssh")" "0:gcloud compute ssh keel-t4 $LOC $SSHF '--command=nvidia-smi -L'"
rc=0
"$KR" ssh --dry-run --instance keel-t4 --zone us-west1-b >"$TMP/ssh" 2>/dev/null || rc=$?
check "interactive ssh: may ask for the key's passphrase, never a password" eq "$rc:$(cat "$TMP/ssh")" \
  "0:gcloud compute ssh keel-t4 $LOC --ssh-flag=-oPasswordAuthentication=no --ssh-flag=-oServerAliveInterval=15 --ssh-flag=-oServerAliveCountMax=4"
rc=0
"$KR" ssh --dry-run --host me@203.0.113.7 >"$TMP/ssh" 2>/dev/null || rc=$?
check "interactive plain ssh: no password or keyboard-interactive login" eq "$rc:$(cut -d' ' -f1-7 "$TMP/ssh")" \
  "0:ssh -p 22 -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no"
check "still nothing was called" eq "$(calls)" 0

echo "help and usage errors"
for sub in create provision run start stop status ssh; do
  rc=0
  "$KR" "$sub" --help >"$TMP/help" 2>&1 || rc=$?
  check "$sub --help: exit 0 and its usage line" eq "$rc:$(head -n1 "$TMP/help" | cut -d' ' -f1-3)" "0:usage: scripts/keel-remote $sub"
done
rc=0
"$KR" help run >"$TMP/help" 2>&1 || rc=$?
check "help run documents --remote-keel" has_text "$TMP/help" "--remote-keel DIR"
rc=0
"$KR" --help >"$TMP/help" 2>&1 || rc=$?
check "--help lists every subcommand" eq "$rc:$(grep -cE '^  (create|provision|run|start|stop|status|ssh) ' "$TMP/help")" "0:7"

expect_usage_error() {
  # expect_usage_error "what" "message part" ARGS...
  local what=$1 msg=$2 rc=0
  shift 2
  "$KR" "$@" >"$TMP/err.out" 2>"$TMP/err" || rc=$?
  check "$what: exit 2" eq "$rc" 2
  check "$what: says why" has_text "$TMP/err" "$msg"
}
expect_usage_error "no subcommand" "usage: scripts/keel-remote" 
expect_usage_error "unknown subcommand" "unknown subcommand 'train'" train
expect_usage_error "no transport" "say where to run" run --dry-run --config "$C" --data "$D"
expect_usage_error "no zone" "--zone is required" run --dry-run --instance keel-t4 --config "$C" --data "$D"
expect_usage_error "both transports" "not both" status --instance keel-t4 --zone z-a --host a@b
expect_usage_error "unknown option" "unknown option '--frobnicate'" run --frobnicate
expect_usage_error "missing config" "--config is required" run --dry-run --instance keel-t4 --zone us-west1-b --data "$D"
expect_usage_error "config not found" "no such file" run --dry-run --instance keel-t4 --zone us-west1-b --config "$TMP/nope.yaml" --data "$D"
mkdir -p "$TMP/half"
cp "$D/train.csv" "$TMP/half/"
expect_usage_error "data without test.csv" "test.csv not found" run --dry-run --instance keel-t4 --zone us-west1-b --config "$C" --data "$TMP/half"
mkdir -p "$TMP/existing"
expect_usage_error "out exists" "already exists" run --dry-run --instance keel-t4 --zone us-west1-b --config "$C" --data "$D" --out "$TMP/existing"
expect_usage_error "bad price" "--price-per-hour must be a number" status --instance keel-t4 --zone us-west1-b --price-per-hour cheap
expect_usage_error "remote dir with .." "must not contain '..'" status --instance keel-t4 --zone us-west1-b --remote-dir a/../b
expect_usage_error "bad host" "user@address" status --host 'root@evil;rm'
expect_usage_error "power-off with gcloud" "--power-off is for --host" stop --instance keel-t4 --zone us-west1-b --power-off
expect_usage_error "start a --host without --power-off" "only powers it off with --power-off" start --host a@b
check "usage errors called nothing" eq "$(calls)" 0

finish
