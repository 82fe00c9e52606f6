#!/bin/sh
# Test-bed only: a FROM-scratch image holding Debian's static busybox (sh, httpd, wget, nc, nslookup), tagged
# mss/busybox:molecule. $1: a scratch work directory.
set -eu
work=$1
rm -rf "$work" && mkdir -p "$work/root/bin" "$work/deb"
cd "$work/deb"
apt-get download busybox-static >/dev/null
dpkg-deb -x busybox-static_*.deb "$work/x"
cp "$work/x/bin/busybox" "$work/root/bin/busybox"
for tool in sh httpd wget nc nslookup hostname mkdir sleep cat echo ls; do ln -s busybox "$work/root/bin/$tool"; done
mkdir -p "$work/root/tmp" "$work/root/etc"
echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >"$work/root/etc/passwd"
cat >"$work/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
ENV PATH=/bin
USER 65534:65534
CMD ["/bin/sh"]
DOCKERFILE
docker build -q -t mss/busybox:molecule "$work" >/dev/null
