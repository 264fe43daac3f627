#!/bin/bash
# tests/tls-certs.sh DIR: a test CA and the emulator's certificates, made
# with openssl (Debian's openssl package), for the tests that run the
# emulator over https.  In DIR (made mode 0700; nothing is reused):
#   ca.pem                 the test CA (CaBundle= in the tests' azureml.conf)
#   server.pem server.key  signed by it, valid now, for 127.0.0.1, localhost
#                          and every vault of the three clouds
#                          (*.vault.azure.net, *.vault.usgovcloudapi.net,
#                          *.vault.azure.cn), as Key Vault's own certificate
#                          names them
#   wrongca.pem wrongca.key    the same names, signed by another CA
#   wrongname.pem wrongname.key signed by the test CA for another host only
#   expired.pem expired.key    signed by the test CA, the same names, but
#                          valid only on 1-2 January 2020
# Keys are mode 0600.  Exit status 0, or 1 with openssl's message.
set -eu
d=${1:?usage: tls-certs.sh DIR}
mkdir -p "$d"
chmod 700 "$d"
cd "$d"
umask 077
names="IP:127.0.0.1,DNS:localhost,DNS:*.vault.azure.net,DNS:*.vault.usgovcloudapi.net,DNS:*.vault.azure.cn"

ca() {	# ca NAME: a self-signed CA in NAME.pem, NAME.key
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$1.key" -out "$1.pem" -days 30 \
		-subj "/CN=slurm-azureml test $1" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2> "$1.err"
}

# leaf NAME CA SANS [START END]: a server certificate NAME.pem (NAME.key)
# signed by CA, for SANS; START and END (YYYYMMDDHHMMSSZ) set its validity
# (openssl ca: openssl x509 -req takes no start date before 3.4).
leaf() {
	local name=$1 ca=$2 sans=$3 dates=(-days 30)
	[ $# -eq 5 ] && dates=(-startdate "$4" -enddate "$5")
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$name.key" -out "$name.csr" \
		-subj "/CN=$name" 2> "$name.err"
	rm -rf "$name.db"
	mkdir "$name.db"
	: > "$name.db/index.txt"
	cat > "$name.db/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
dir = $d/$name.db
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
rand_serial = yes
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $sans
CNF
	openssl ca -batch -notext -config "$name.db/ca.cnf" \
		-cert "$ca.pem" -keyfile "$ca.key" -in "$name.csr" \
		-out "$name.pem" -extensions ext \
		"${dates[@]}" 2>> "$name.err"
	[ -s "$name.pem" ]
	rm -rf "$name.db" "$name.csr"
}

d=$(pwd)
if ! { ca ca && ca otherca &&
       leaf server ca "$names" &&
       leaf wrongca otherca "$names" &&
       leaf wrongname ca "DNS:wrong.example.invalid" &&
       leaf expired ca "$names" 20200101000000Z 20200102000000Z; }; then
	cat ./*.err >&2
	exit 1
fi
rm -f ./*.err otherca.key
chmod 600 ./*.key
chmod 644 ./*.pem
