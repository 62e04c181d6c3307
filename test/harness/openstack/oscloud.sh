#!/bin/bash
# Loopback-only OpenStack (Debian 12 / Zed packages): Keystone, Placement, Glance, Neutron (ML2, agentless),
# Nova (api, conductor, scheduler, compute with fake.FakeDriver). MariaDB + RabbitMQ run as plain processes.
# Usage: oscloud.sh install | init | start | stop | status | mem
# Every listener binds 127.0.0.1 only. No systemd needed; PIDs live in $B/run/*.pid and every process
# (epmd included) is started here and stopped by its recorded PID, never by name.
# Data dir: $OSC_BASE (default /var/tmp/uws-cluster-oscloud). The test helper (cloud.ts) uses a fresh temp dir.
# Adapted for uws-cluster from a reference kit; the project carries its own copy (seed.py, pyext/).
set -euo pipefail
KIT=$(cd "$(dirname "$0")" && pwd)
B=${OSC_BASE:-/var/tmp/uws-cluster-oscloud}
PY=/usr/bin/python3            # bypass any pyenv shim: the OpenStack libs live in Debian's python3
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
DBURL="mysql+pymysql://os:ospass@127.0.0.1"
RABBIT="rabbit://guest:guest@127.0.0.1:5672/"
PKGS="mariadb-server rabbitmq-server keystone nova-api nova-conductor nova-scheduler placement-api glance-api
      neutron-server python3-openstackclient python3-pymysql curl"

log() { echo "[$(date +%T)] $*"; }

# start NAME CMD... : run detached in its own session, record PID (the PID is also the process-group id)
start_bg() {
  local name=$1; shift
  if [ -f "$B/run/$name.pid" ] && kill -0 "$(cat "$B/run/$name.pid")" 2>/dev/null; then return; fi
  setsid nohup "$@" > "$B/log/$name.out" 2>&1 < /dev/null &
  echo $! > "$B/run/$name.pid"
}

wait_http() {  # wait_http URL NAME [timeout]
  local t0=$(date +%s)
  until curl -s -o /dev/null -m 2 "$1"; do
    [ $(( $(date +%s) - t0 )) -gt "${3:-120}" ] && { log "TIMEOUT waiting for $2 ($1)"; return 1; }
    sleep 0.3
  done
  log "$2 answering ($(( $(date +%s) - t0 ))s)"
}

cmd_install() {
  # Idempotent: a machine that has every package returns at once (setup.sh --test calls this on each run).
  local missing=() p
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "openstack test cloud packages already installed"; return 0; fi
  [ "$(id -u)" -eq 0 ] || { echo "oscloud: missing Debian packages: ${missing[*]}; run as root" >&2; exit 1; }
  log "installing ${#missing[@]} packages: ${missing[*]}"
  local created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # no package install may start a daemon
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  # no package may configure a database of its own (dbconfig-common): we run our own MariaDB
  for p in keystone nova-common nova-api glance-common glance-api neutron-common neutron-server placement-common placement-api; do
    echo "$p $p/dbconfig-install boolean false"; done | debconf-set-selections
  local attempt ok=0
  for attempt in 1 2 3; do
    if apt-get update -q -o DPkg::Lock::Timeout=300 &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}"; then
      ok=1; break
    fi
    log "apt-get failed (attempt $attempt), retrying"; sleep 5
  done
  [ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $ok = 1 ] || { log "install FAILED"; exit 1; }
  log "install done"
}

write_configs() {
  mkdir -p "$B"/{etc/{keystone,placement,glance,neutron,nova,rabbit},log,run/mysqld,data/{mysql,rabbit,keystone/fernet-keys,keystone/credential-keys,glance/{images,staging,tasks,locks},neutron/locks,nova/{instances,locks}}}
  chown -R mysql:mysql "$B/data/mysql" "$B/run/mysqld"
  chown -R rabbitmq:rabbitmq "$B/data/rabbit"
  mkdir -p "$B/log/rabbit" && chown rabbitmq:rabbitmq "$B/log/rabbit"
  chmod 755 "$B" "$B/etc" "$B/etc/rabbit" "$B/data" "$B/log"
  cat > "$B/etc/my.cnf" <<EOF
[mysqld]
user=mysql
datadir=$B/data/mysql
socket=$B/run/mysqld/mysqld.sock
pid-file=$B/run/mysqld/mysqld.pid
bind-address=127.0.0.1
port=3306
max_connections=1000
innodb_buffer_pool_size=64M
performance_schema=OFF
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
EOF
  cat > "$B/etc/rabbit/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:5672
loopback_users.guest = true
log.file.level = warning
EOF
  echo '[].' > "$B/etc/rabbit/enabled_plugins"
  cat > "$B/etc/rabbit/env.sh" <<EOF
export RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_USE_LONGNAME=false
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672 RABBITMQ_DIST_PORT=25672 ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_CONFIG_FILE=$B/etc/rabbit/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$B/etc/rabbit/enabled_plugins
export RABBITMQ_MNESIA_BASE=$B/data/rabbit/mnesia RABBITMQ_LOG_BASE=$B/log/rabbit
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export HOME=/var/lib/rabbitmq ERL_EPMD_PORT=4369
EOF
  chmod 644 "$B"/etc/rabbit/*
  # Each service names its catalog type (service_type below its $AUTHTOKEN): keystonemiddleware checks
  # an application credential's access rules against it, and refuses every request of a credential
  # with access rules when it is unset (as a cloud that does not honour access rules would).
  local AUTHTOKEN="[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:5000/v3
auth_url = http://127.0.0.1:5000/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
memcached_servers ="
  local SVCAUTH="auth_url = http://127.0.0.1:5000/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
region_name = RegionOne
project_name = service"
  # ---- keystone
  cat > "$B/etc/keystone/keystone.conf" <<EOF
[DEFAULT]
log_dir = $B/log
log_file = keystone.log
[database]
connection = $DBURL/keystone
[identity]
# bcrypt cost 4 instead of 12: password auth ~10x cheaper (test cloud only)
password_hash_rounds = 4
[token]
provider = fernet
[fernet_tokens]
key_repository = $B/data/keystone/fernet-keys
[fernet_receipts]
key_repository = $B/data/keystone/fernet-keys
[credential]
key_repository = $B/data/keystone/credential-keys
[cache]
# in-process cache; safe because keystone runs as ONE uwsgi worker process
enabled = true
backend = dogpile.cache.memory
EOF
  cat > "$B/etc/keystone/uwsgi.ini" <<EOF
[uwsgi]
plugins = python3
http-socket = 127.0.0.1:5000
wsgi-file = /usr/bin/keystone-wsgi-public
master = true
processes = 1
threads = 8
enable-threads = true
lazy-apps = true
die-on-term = true
buffer-size = 65535
# uwsgi's http-socket does not keep connections alive; without this header keep-alive clients
# (python-requests, Node fetch/undici) get ECONNRESET on the next request of a pooled connection
add-header = Connection: close
env = OS_KEYSTONE_CONFIG_DIR=$B/etc/keystone
logto = $B/log/keystone-uwsgi.log
EOF
  # ---- placement
  cat > "$B/etc/placement/placement.conf" <<EOF
[DEFAULT]
log_dir = $B/log
log_file = placement.log
[placement_database]
connection = $DBURL/placement
[api]
auth_strategy = keystone
$AUTHTOKEN
service_type = placement
username = placement
password = placementpass
EOF
  sed -e "s#5000#8778#" -e "s#keystone-wsgi-public#placement-api#" -e "s#OS_KEYSTONE_CONFIG_DIR=$B/etc/keystone#OS_PLACEMENT_CONFIG_DIR=$B/etc/placement#" \
      -e "s#keystone-uwsgi.log#placement-uwsgi.log#" -e "s#threads = 8#threads = 4#" "$B/etc/keystone/uwsgi.ini" > "$B/etc/placement/uwsgi.ini"
  # ---- glance
  cp /etc/glance/glance-api-paste.ini "$B/etc/glance/"
  cat > "$B/etc/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
workers = 1
log_dir = $B/log
log_file = glance-api.log
enabled_backends = fs:file
[database]
connection = $DBURL/glance
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $B/data/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $B/data/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $B/data/glance/tasks
[paste_deploy]
flavor = keystone
config_file = $B/etc/glance/glance-api-paste.ini
$AUTHTOKEN
service_type = image
username = glance
password = glancepass
[oslo_concurrency]
lock_path = $B/data/glance/locks
EOF
  # ---- neutron
  cp /etc/neutron/api-paste.ini "$B/etc/neutron/"
  cat > "$B/etc/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9696
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
allow_overlapping_ips = true
transport_url = $RABBIT
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
api_paste_config = $B/etc/neutron/api-paste.ini
state_path = $B/data/neutron
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
log_dir = $B/log
log_file = neutron-server.log
[database]
connection = $DBURL/neutron
$AUTHTOKEN
service_type = network
username = neutron
password = neutronpass
[nova]
$SVCAUTH
username = nova
password = novapass
[oslo_concurrency]
lock_path = $B/data/neutron/locks
EOF
  cat > "$B/etc/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
# loopfake: agentless mechanism driver from $KIT/pyext (binds every port, vif_type ovs, status ACTIVE)
mechanism_drivers = loopfake
extension_drivers = port_security
[ml2_type_flat]
flat_networks = public
[ml2_type_vxlan]
vni_ranges = 1:1000
[securitygroup]
enable_security_group = true
firewall_driver = noop
EOF
  # ---- nova
  cp /etc/nova/api-paste.ini "$B/etc/nova/"
  cat > "$B/etc/nova/nova.conf" <<EOF
[DEFAULT]
host = loopcompute
my_ip = 127.0.0.1
transport_url = $RABBIT
compute_driver = fake.FakeDriver
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
metadata_listen = 127.0.0.1
state_path = $B/data/nova
instances_path = $B/data/nova/instances
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
log_dir = $B/log
[api]
auth_strategy = keystone
[api_database]
connection = $DBURL/nova_api
[database]
connection = $DBURL/nova
[wsgi]
api_paste_config = $B/etc/nova/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 30
$AUTHTOKEN
service_type = compute
username = nova
password = novapass
[service_user]
send_service_user_token = true
$SVCAUTH
username = nova
password = novapass
[placement]
$SVCAUTH
username = placement
password = placementpass
[neutron]
$SVCAUTH
username = neutron
password = neutronpass
service_metadata_proxy = false
[glance]
region_name = RegionOne
[cinder]
os_region_name = RegionOne
[vnc]
enabled = false
[oslo_concurrency]
lock_path = $B/data/nova/locks
[oslo_messaging_notifications]
driver = noop
EOF
  # nova-compute must not see DB URLs (it reaches the DB through nova-conductor only)
  awk '/^\[/{skip=($0=="[database]"||$0=="[api_database]")} !skip' "$B/etc/nova/nova.conf" > "$B/etc/nova/nova-compute.conf"
  cat > "$B/nova-compute" <<'EOF'
#!/usr/bin/python3
# nova-compute without the nova-compute .deb (which drags in qemu/libvirt/iscsi)
import sys
from nova.cmd.compute import main
sys.argv[0] = 'nova-compute'
sys.exit(main())
EOF
  chmod +x "$B/nova-compute"
  cat > "$B/adminrc" <<EOF
export OS_AUTH_URL=http://127.0.0.1:5000/v3 OS_USERNAME=admin OS_PASSWORD=adminpass OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=RegionOne
EOF
  sed -e 's/=admin /=demo /; s/adminpass/demopass/; s/OS_PROJECT_NAME=admin/OS_PROJECT_NAME=demo/' "$B/adminrc" > "$B/demorc"
}

start_epmd() {
  # Started here (not by the Erlang VM) so it has a PID file and stops with the rest, by PID.
  start_bg epmd runuser -u rabbitmq -- /usr/bin/epmd -address 127.0.0.1 -port 4369
  until (exec 3<>/dev/tcp/127.0.0.1/4369) 2>/dev/null; do sleep 0.1; done
}

start_infra() {
  start_bg mysqld /usr/sbin/mariadbd --defaults-file="$B/etc/my.cnf"
  start_epmd
  start_bg rabbit runuser -u rabbitmq -- bash -c ". $B/etc/rabbit/env.sh; exec /usr/lib/rabbitmq/bin/rabbitmq-server"
  local t0=$(date +%s)
  until mariadb-admin --socket="$B/run/mysqld/mysqld.sock" -uroot ping >/dev/null 2>&1; do sleep 0.3; done; log "mariadb up ($(( $(date +%s)-t0 ))s)"
  until (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; do sleep 0.3; done; log "rabbitmq up ($(( $(date +%s)-t0 ))s)"
}

start_keystone() {
  start_bg keystone uwsgi --ini "$B/etc/keystone/uwsgi.ini"
  wait_http http://127.0.0.1:5000/v3 keystone
}

start_rest() {
  start_bg placement uwsgi --ini "$B/etc/placement/uwsgi.ini"
  start_bg glance glance-api --config-file "$B/etc/glance/glance-api.conf"
  start_bg neutron env PYTHONPATH="$KIT/pyext" neutron-server --config-file "$B/etc/neutron/neutron.conf" --config-file "$B/etc/neutron/ml2_conf.ini"
  local NC="--config-file $B/etc/nova/nova.conf"
  start_bg nova-api nova-api $NC --log-file "$B/log/nova-api.log"
  start_bg nova-conductor nova-conductor $NC --log-file "$B/log/nova-conductor.log"
  start_bg nova-scheduler nova-scheduler $NC --log-file "$B/log/nova-scheduler.log"
  start_bg nova-compute "$B/nova-compute" --config-file "$B/etc/nova/nova-compute.conf" --log-file "$B/log/nova-compute.log"
  wait_http http://127.0.0.1:8778/ placement
  wait_http http://127.0.0.1:9292/ glance
  wait_http http://127.0.0.1:9696/ neutron
  wait_http http://127.0.0.1:8774/ nova-api
}

cmd_init() {
  [ -e "$B/data/mysql/mysql" ] && { echo "$B already initialised; use start (or rm -rf $B)"; exit 1; }
  local T0=$(date +%s)
  write_configs
  mariadb-install-db --defaults-file="$B/etc/my.cnf" --auth-root-authentication-method=socket > "$B/log/install-db.log" 2>&1
  start_infra
  mariadb --socket="$B/run/mysqld/mysqld.sock" -uroot <<'EOF'
CREATE DATABASE keystone; CREATE DATABASE glance; CREATE DATABASE neutron; CREATE DATABASE placement;
CREATE DATABASE nova_api; CREATE DATABASE nova; CREATE DATABASE nova_cell0;
CREATE USER 'os'@'127.0.0.1' IDENTIFIED BY 'ospass'; GRANT ALL PRIVILEGES ON *.* TO 'os'@'127.0.0.1';
EOF
  log "db syncs (parallel)"
  local KC="--config-file $B/etc/keystone/keystone.conf"
  ( keystone-manage $KC db_sync && keystone-manage $KC fernet_setup --keystone-user root --keystone-group root &&
    keystone-manage $KC credential_setup --keystone-user root --keystone-group root &&
    chmod -R go-rwx "$B/data/keystone" &&
    keystone-manage $KC bootstrap --bootstrap-password adminpass --bootstrap-region-id RegionOne \
      --bootstrap-admin-url http://127.0.0.1:5000/v3/ --bootstrap-internal-url http://127.0.0.1:5000/v3/ \
      --bootstrap-public-url http://127.0.0.1:5000/v3/ ) > "$B/log/keystone-manage.log" 2>&1 &
  local pk=$!
  placement-manage --config-file "$B/etc/placement/placement.conf" db sync > "$B/log/placement-manage.log" 2>&1 &
  local pp=$!
  glance-manage --config-file "$B/etc/glance/glance-api.conf" db_sync > "$B/log/glance-manage.log" 2>&1 &
  local pg=$!
  PYTHONPATH="$KIT/pyext" neutron-db-manage --config-file "$B/etc/neutron/neutron.conf" --config-file "$B/etc/neutron/ml2_conf.ini" upgrade heads > "$B/log/neutron-db-manage.log" 2>&1 &
  local pn=$!
  local NC="--config-file $B/etc/nova/nova.conf"
  ( nova-manage $NC api_db sync && nova-manage $NC cell_v2 map_cell0 --database_connection "$DBURL/nova_cell0" &&
    nova-manage $NC cell_v2 create_cell --name=cell1 && nova-manage $NC db sync ) > "$B/log/nova-manage.log" 2>&1 &
  local pnv=$!
  wait $pk || { log "keystone init FAILED, see $B/log/keystone-manage.log"; exit 1; }
  start_keystone
  $PY "$KIT/seed.py" keystone
  wait $pp && wait $pg && wait $pn && wait $pnv || { log "a db sync FAILED, see $B/log/*-manage.log"; exit 1; }
  log "db syncs done"
  start_rest
  $PY "$KIT/seed.py" wait-compute "$T0"
  # map the compute host into cell1 now instead of waiting for the scheduler's 30 s periodic discovery
  until $PY "$KIT/seed.py" has-hypervisor; do
    nova-manage --config-file "$B/etc/nova/nova.conf" cell_v2 discover_hosts > /dev/null 2>&1; sleep 1
  done
  log "compute host mapped"
  $PY "$KIT/seed.py" resources
  log "init complete in $(( $(date +%s)-T0 ))s"
}

cmd_start() {
  local T0=$(date +%s)
  # Keystone/Placement/Glance need only MariaDB and start while RabbitMQ boots; Neutron and Nova
  # are started only once AMQP answers (a nova-compute started before RabbitMQ was seen to hang
  # for 10 min in its first conductor RPC, leaving new servers in BUILD).
  start_bg mysqld /usr/sbin/mariadbd --defaults-file="$B/etc/my.cnf"
  start_epmd
  start_bg rabbit runuser -u rabbitmq -- bash -c ". $B/etc/rabbit/env.sh; exec /usr/lib/rabbitmq/bin/rabbitmq-server"
  start_bg keystone uwsgi --ini "$B/etc/keystone/uwsgi.ini"
  start_bg placement uwsgi --ini "$B/etc/placement/uwsgi.ini"
  start_bg glance glance-api --config-file "$B/etc/glance/glance-api.conf"
  start_infra
  start_rest
  wait_http http://127.0.0.1:5000/v3 keystone
  $PY "$KIT/seed.py" wait-compute "$T0"
  log "start complete in $(( $(date +%s)-T0 ))s"
}

cmd_stop() {
  # Each PID is its own process-group leader (setsid), so "kill -- -PID" also reaches its forked workers.
  # OpenStack services first (in parallel), then RabbitMQ and MariaDB.
  stop_group() {
    local pids=() names=() n p
    for n in "$@"; do
      local f="$B/run/$n.pid"; [ -f "$f" ] || continue; p=$(cat "$f"); rm -f "$f"
      kill -0 "$p" 2>/dev/null || continue
      kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p"; pids+=("$p"); names+=("$n")
    done
    local i
    for i in $(seq 1 75); do
      local alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ $alive = 0 ] && break; sleep 0.2
    done
    for i in "${!pids[@]}"; do
      kill -0 "${pids[$i]}" 2>/dev/null && { log "${names[$i]} ignored SIGTERM, SIGKILL"; kill -KILL -- "-${pids[$i]}" 2>/dev/null || true; }
      log "stopped ${names[$i]} (${pids[$i]})"
    done
  }
  stop_group nova-compute nova-scheduler nova-conductor nova-api neutron glance placement keystone
  stop_group rabbit mysqld epmd
  return 0
}

cmd_status() {
  for f in "$B"/run/*.pid; do
    [ -e "$f" ] || continue; local n=$(basename "$f" .pid) p=$(cat "$f")
    kill -0 "$p" 2>/dev/null && echo "$n: running ($p)" || echo "$n: DEAD ($p)"
  done
}

cmd_mem() {
  local tot=0 totp=0
  for f in "$B"/run/*.pid; do
    local n=$(basename "$f" .pid) p=$(cat "$f") kb=0 pss=0 c=0 q
    for q in $(ps -e -o pgid=,pid= | awk -v g="$p" '$1==g{print $2}'); do
      c=$((c+1))
      kb=$((kb + $(awk '/^Rss:/{print $2}' /proc/$q/smaps_rollup 2>/dev/null || echo 0)))
      pss=$((pss + $(awk '/^Pss:/{print $2}' /proc/$q/smaps_rollup 2>/dev/null || echo 0)))
    done
    printf "%-15s procs=%-2s rss=%5d MiB  pss=%5d MiB\n" "$n" "$c" $((kb/1024)) $((pss/1024)); tot=$((tot+kb)); totp=$((totp+pss))
  done
  echo "TOTAL rss=$((tot/1024)) MiB  pss=$((totp/1024)) MiB (PSS splits pages shared by forked workers)"
}

case "${1:-}" in
  install) cmd_install ;; init) cmd_init ;; start) cmd_start ;; stop) cmd_stop ;; status) cmd_status ;; mem) cmd_mem ;;
  *) echo "usage: $0 install|init|start|stop|status|mem"; exit 2 ;;
esac
