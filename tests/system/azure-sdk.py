#!/usr/bin/python3
# tests/system/azure-sdk.py - the Azure SDK for Python (Debian's
# python3-azure: azure-mgmt-compute 29, azure-identity, azure-keyvault-
# secrets, azure-core) against the emulator that azure-sdk.sh started.
# Environment: AZURE_EMULATOR_URL (https://127.0.0.1:PORT),
# AZURE_EMULATOR_IMDS (http://127.0.0.1:PORT), REQUESTS_CA_BUNDLE (the
# test CA), AZURE_EMULATOR_MUNGE_KEY (the file served as secret "munge").
# Every case runs; each prints "ok - ..." or "FAIL: ..."; exit 1 if any
# failed.  AZML_SDK_TRACE=1 adds the traceback of a failure.
import base64
import json
import os
import socket
import sys
import time
import traceback
import urllib.request
import ssl
import logging

from azure.core.credentials import AccessToken
from azure.core.exceptions import (HttpResponseError, ResourceNotFoundError,
                                   ClientAuthenticationError)
from azure.identity import (ClientSecretCredential, ManagedIdentityCredential,
                            CredentialUnavailableError)
from azure.core.rest import HttpRequest
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource import SubscriptionClient
from azure.keyvault.secrets import SecretClient

EMU = os.environ["AZURE_EMULATOR_URL"].rstrip("/")
IMDS = os.environ["AZURE_EMULATOR_IMDS"].rstrip("/")
CA = os.environ["REQUESTS_CA_BUNDLE"]
EMU_PORT = int(EMU.rsplit(":", 1)[1])
SUB = "00000000-0000-0000-0000-000000000001"
TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "22222222-2222-2222-2222-222222222222"
RG = "rg"
LOC = "eastus"
IDENTITY = ("/subscriptions/%s/resourceGroups/%s/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/slurm-nodes"
            % (SUB, RG))
ARM_SCOPE = "https://management.azure.com/.default"

passed = 0
failed = []


def case(name):
    """Run the decorated function now as one case: ok, or FAIL with why."""
    def run(fn):
        global passed
        try:
            what = fn()
            print("ok - %s%s" % (name, ": " + what if what else ""), flush=True)
            passed += 1
        except Exception as e:  # a case's failure, whatever it is
            why = "%s: %s" % (type(e).__name__, str(e).replace("\n", " ")[:600])
            if os.environ.get("AZML_SDK_TRACE"):
                traceback.print_exc()
            print("FAIL: %s: %s" % (name, why), file=sys.stderr, flush=True)
            failed.append(name)
        return fn
    return run


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def admin(path, body=None):
    """The emulator's admin API (not Azure's): GET, or POST a JSON body."""
    ctx = ssl.create_default_context(cafile=CA)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(EMU + path, data=data,
                                 method="POST" if data else "GET")
    if data:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.loads(r.read() or b"null")


def azure_error(e):
    """(status, code) of an azure-core HttpResponseError."""
    code = e.error.code if getattr(e, "error", None) else None
    return (e.status_code, code)


# Host-style Key Vault (https://{vault}.vault.azure.net/...): the vault's
# name goes to the emulator, port 443 to its port, inside this process
# only (the tests' stand-in for DNS; nothing in the product is changed).
_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host, port, *args, **kwargs):
    if isinstance(host, str) and host.lower().endswith(".vault.azure.net"):
        return _real_getaddrinfo("127.0.0.1", EMU_PORT if port in (443, "443", "https") else port,
                                 *args, **kwargs)
    return _real_getaddrinfo(host, port, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo
# azure-identity logs each credential's failure as a warning: the cases
# that expect one say what they got.
logging.getLogger("azure.identity").setLevel(logging.ERROR)


# ---- Entra ID: the client-secret credential, as an application signs in.
cred = None


@case("ClientSecretCredential gets an ARM token from the emulator's Entra ID (MSAL: OpenID discovery, then the token endpoint)")
def _():
    global cred
    c = ClientSecretCredential(TENANT, CLIENT, "emulator-secret",
                               authority=EMU, instance_discovery=False)
    tok = c.get_token(ARM_SCOPE)
    check(tok.token and tok.expires_on > time.time() + 600,
          "token %r expires at %r" % (tok.token[:12], tok.expires_on))
    cred = c
    return "expires in %d s" % (tok.expires_on - time.time())


class _TokenEndpoint:
    """Should the case above fail: the emulator's token endpoint asked
    directly, so that the other cases still run (that case has failed)."""

    def get_token(self, *scopes, **kwargs):
        body = ("grant_type=client_credentials&client_id=%s&client_secret="
                "emulator-secret&scope=%s" % (CLIENT, scopes[0])).encode()
        ctx = ssl.create_default_context(cafile=CA)
        with urllib.request.urlopen("%s/%s/oauth2/v2.0/token" % (EMU, TENANT),
                                    data=body, context=ctx) as r:
            j = json.loads(r.read())
        return AccessToken(j["access_token"], int(time.time()) + int(j["expires_in"]))


if cred is None:
    print("  (the other cases use the token endpoint directly: the case above failed)")
    cred = _TokenEndpoint()

compute = ComputeManagementClient(cred, SUB, base_url=EMU + "/",
                                  credential_scopes=[ARM_SCOPE],
                                  polling_interval=0.2)
API = compute.virtual_machines._config.api_version \
    if hasattr(compute.virtual_machines, "_config") else "2022-08-01"


def vm_body(name, size="Standard_D2s_v3", node=None, zone=None):
    """A VM as the product asks for one (plugins/power_save's PUT)."""
    b = {
        "location": LOC,
        "tags": {"slurm-node": node or name},
        "identity": {"type": "UserAssigned",
                     "userAssignedIdentities": {IDENTITY: {}}},
        "properties": {
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {
                "imageReference": {"publisher": "Canonical",
                                   "offer": "0001-com-ubuntu-server-jammy",
                                   "sku": "22_04-lts-gen2",
                                   "version": "latest"},
                "osDisk": {"createOption": "FromImage",
                           "managedDisk": {"storageAccountType": "Premium_LRS"},
                           "deleteOption": "Delete"}},
            "osProfile": {
                "computerName": name, "adminUsername": "azureuser",
                "linuxConfiguration": {
                    "disablePasswordAuthentication": True,
                    "ssh": {"publicKeys": [{
                        "path": "/home/azureuser/.ssh/authorized_keys",
                        "keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwVn3nIJ6DC4sFSyDW40YkTu3FNHDQnqJiU3AFCJ3Ra test"}]}}},
            "networkProfile": {
                "networkApiVersion": "2020-11-01",
                "networkInterfaceConfigurations": [{
                    "name": name + "-nic",
                    "properties": {
                        "primary": True, "deleteOption": "Delete",
                        "ipConfigurations": [{
                            "name": "ipconfig1",
                            "properties": {"subnet": {"id":
                                "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default" % (SUB, RG)}}}]}}]},
            "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
            "userData": base64.b64encode(b"#!/bin/sh\n").decode()}}
    if zone:
        b["zones"] = [zone]
    return b


def raw(method, path, body=None):
    """One ARM request as written here, through the SDK's pipeline (its
    token, retries off), for what the SDK's models will not send."""
    req = HttpRequest(method, EMU + path, json=body)
    return compute._client.send_request(req, retry_total=0)


def power_state(name):
    iv = compute.virtual_machines.instance_view(RG, name)
    return [s.code for s in iv.statuses if s.code.startswith("PowerState/")]


# ---- virtual machines
@case("VM create: begin_create_or_update polls its LRO (Azure-AsyncOperation) to Succeeded, api-version %s" % API)
def _():
    poller = compute.virtual_machines.begin_create_or_update(RG, "sdk-vm1", vm_body("sdk-vm1"))
    check(poller.status() in ("InProgress", "Creating", "Updating", "Succeeded"),
          "first status %r" % poller.status())
    vm = poller.result(timeout=30)
    check(vm.provisioning_state == "Succeeded", "provisioningState %r" % vm.provisioning_state)
    check(vm.name == "sdk-vm1" and vm.hardware_profile.vm_size == "Standard_D2s_v3",
          "name %r size %r" % (vm.name, vm.hardware_profile.vm_size))
    check(vm.id.lower() == ("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/sdk-vm1" % (SUB, RG)).lower(),
          "id %r" % vm.id)
    return "id %s" % vm.id


@case("VM get with $expand=instanceView: PowerState/running, identity and tags as sent")
def _():
    vm = compute.virtual_machines.get(RG, "sdk-vm1", expand="instanceView")
    check(vm.instance_view is not None, "no instanceView")
    codes = [s.code for s in vm.instance_view.statuses]
    check("PowerState/running" in codes, "statuses %r" % codes)
    check(vm.tags.get("slurm-node") == "sdk-vm1", "tags %r" % vm.tags)
    ids = [k.lower() for k in (vm.identity.user_assigned_identities or {})]
    check(IDENTITY.lower() in ids, "identities %r" % ids)
    return "statuses %s" % ", ".join(codes)


@case("VM get without $expand: the model only, no instanceView (as ARM answers)")
def _():
    vm = compute.virtual_machines.get(RG, "sdk-vm1")
    check(vm.instance_view is None, "instanceView present: %r" % vm.instance_view)


@case("VM networkProfile.networkInterfaces names the VM's NIC")
def _():
    vm = compute.virtual_machines.get(RG, "sdk-vm1")
    nics = vm.network_profile.network_interfaces if vm.network_profile else None
    check(nics, "networkProfile.networkInterfaces missing: %r" % vm.network_profile)
    check(any(n.id.lower().endswith("/networkinterfaces/sdk-vm1-nic") for n in nics),
          "NIC ids %r" % [n.id for n in nics])
    return nics[0].id


@case("VM list pages with nextLink (page size 2): every VM of the group, once")
def _():
    pollers = [compute.virtual_machines.begin_create_or_update(RG, n, vm_body(n))
               for n in ("sdk-vm2", "sdk-vm3", "sdk-vm4")]
    for p in pollers:
        p.result(timeout=30)
    pages = list(compute.virtual_machines.list(RG).by_page())
    names = [v.name for page in pages for v in page]
    check(len(pages) >= 2, "one page: %r" % names)
    check(sorted(names) == ["sdk-vm1", "sdk-vm2", "sdk-vm3", "sdk-vm4"],
          "names %r" % names)
    return "%d VMs in %d pages" % (len(names), len(pages))


@case("VM list_all (VirtualMachines_ListAll, the subscription's VMs)")
def _():
    names = sorted(v.name for v in compute.virtual_machines.list_all())
    check(names == ["sdk-vm1", "sdk-vm2", "sdk-vm3", "sdk-vm4"], "names %r" % names)


@case("VM update by PATCH (begin_update): a user-assigned identity added")
def _():
    other = IDENTITY.replace("slurm-nodes", "sdk-other")
    vm = compute.virtual_machines.begin_update(
        RG, "sdk-vm2", {"identity": {"type": "UserAssigned",
                                     "userAssignedIdentities": {IDENTITY: {}, other: {}}}}
    ).result(timeout=30)
    ids = sorted(k.lower() for k in vm.identity.user_assigned_identities)
    check(other.lower() in ids, "identities %r" % ids)
    return "%d identities" % len(ids)


@case("VM update by PUT of an existing VM: its tags change (ARM's PUT is create-or-update)")
def _():
    body = vm_body("sdk-vm3")
    body["tags"]["owner"] = "sdk"
    vm = compute.virtual_machines.begin_create_or_update(RG, "sdk-vm3", body).result(timeout=30)
    check(vm.tags.get("owner") == "sdk", "PUT answer's tags %r" % vm.tags)
    vm = compute.virtual_machines.get(RG, "sdk-vm3")
    check(vm.tags.get("owner") == "sdk", "GET after PUT: tags %r" % vm.tags)


@case("VM etag on GET")
def _():
    vm = compute.virtual_machines.get(RG, "sdk-vm1")
    etag = getattr(vm, "etag", None)
    if etag is None:  # azure-mgmt-compute 29 models no VM etag: read the body
        raw = compute.virtual_machines.get(RG, "sdk-vm1", cls=lambda resp, model, h: json.loads(resp.http_response.text()))
        etag = raw.get("etag")
    check(etag, "no etag")
    return etag


@case("VM deallocate then start: LROs to PowerState/deallocated and back to running")
def _():
    compute.virtual_machines.begin_deallocate(RG, "sdk-vm4").result(timeout=30)
    st = power_state("sdk-vm4")
    check(st == ["PowerState/deallocated"], "after deallocate: %r" % st)
    compute.virtual_machines.begin_start(RG, "sdk-vm4").result(timeout=30)
    st = power_state("sdk-vm4")
    check(st == ["PowerState/running"], "after start: %r" % st)


@case("LRO URLs (Azure-AsyncOperation, Location) carry the caller's api-version; the status goes InProgress to Succeeded")
def _():
    def run():
        vm = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/sdk-vm4" % (SUB, RG)
        r = raw("POST", vm + "/deallocate?api-version=2022-08-01")
        check(r.status_code == 202, "deallocate: %d %s" % (r.status_code, r.text()[:200]))
        loc = r.headers.get("Location")
        check(loc and loc.startswith(EMU + "/") and "api-version=2022-08-01" in loc, "Location %r" % loc)
        codes = []
        for _ in range(100):
            code = raw("GET", loc[len(EMU):]).status_code
            if not codes or codes[-1] != code:
                codes.append(code)
            if code != 202:
                break
            time.sleep(0.1)
        check(codes[-1] == 200, "Location's answers %r" % codes)
        # a PUT's answer names its Azure-AsyncOperation (status in the body)
        r = raw("PUT", vm.replace("sdk-vm4", "sdk-vm5") + "?api-version=2022-08-01", vm_body("sdk-vm5"))
        check(r.status_code == 201, "PUT: %d %s" % (r.status_code, r.text()[:200]))
        asy = r.headers.get("Azure-AsyncOperation")
        check(asy and asy.startswith(EMU + "/") and "api-version=2022-08-01" in asy, "Azure-AsyncOperation %r" % asy)
        seen = []
        for _ in range(100):
            st = raw("GET", asy[len(EMU):]).json()["status"]
            if not seen or seen[-1] != st:
                seen.append(st)
            if st != "InProgress":
                break
            time.sleep(0.1)
        check(seen[-1] == "Succeeded", "statuses %r" % seen)
        compute.virtual_machines.begin_start(RG, "sdk-vm4").result(timeout=30)
        compute.virtual_machines.begin_delete(RG, "sdk-vm5").result(timeout=30)
        return "Location %s; Azure-AsyncOperation %s" % (codes, " -> ".join(seen))

    try:
        return run()
    finally:  # the next cases count sdk-vm4's vCPUs: running again, sdk-vm5 gone
        for _ in range(100):
            if power_state("sdk-vm4") != ["PowerState/deallocating"]:
                break
            time.sleep(0.1)
        if power_state("sdk-vm4") != ["PowerState/running"]:
            compute.virtual_machines.begin_start(RG, "sdk-vm4").result(timeout=30)
        try:
            compute.virtual_machines.begin_delete(RG, "sdk-vm5").result(timeout=30)
        except HttpResponseError:
            pass


@case("operation status has startTime and endTime")
def _():
    vm = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/sdk-vm4" % (SUB, RG)
    r = raw("PUT", vm.replace("sdk-vm4", "sdk-vm6") + "?api-version=2022-08-01", vm_body("sdk-vm6"))
    try:
        u = r.headers.get("Azure-AsyncOperation")
        check(u, "PUT answered %d with no Azure-AsyncOperation" % r.status_code)
        for _ in range(100):
            j = raw("GET", u[len(EMU):]).json()
            if j["status"] != "InProgress":
                break
            time.sleep(0.1)
    finally:
        compute.virtual_machines.begin_delete(RG, "sdk-vm6").result(timeout=30)
    check(j.get("startTime") and j.get("endTime"), "status body %r" % j)


@case("VM boot diagnostics: retrieve_boot_diagnostics_data's serial log URI is readable over https")
def _():
    r = compute.virtual_machines.retrieve_boot_diagnostics_data(RG, "sdk-vm1", sas_uri_expiration_time_in_minutes=5)
    uri = r.serial_console_log_blob_uri
    check(uri and uri.startswith(EMU + "/"), "serial log URI %r" % uri)
    ctx = ssl.create_default_context(cafile=CA)
    with urllib.request.urlopen(uri, context=ctx, timeout=10) as resp:
        check(resp.status == 200, "GET serial log: %d" % resp.status)
    return uri.split("?")[0]


@case("usages: cores, virtualMachines and the VM family, with current values")
def _():
    u = {x.name.value: x for x in compute.usage.list(LOC)}
    for n in ("cores", "virtualMachines", "standardDSv3Family"):
        check(n in u, "no %s in %r" % (n, sorted(u)))
    check(u["virtualMachines"].current_value == 4, "virtualMachines %r" % u["virtualMachines"].current_value)
    check(u["standardDSv3Family"].current_value == 8, "standardDSv3Family %r" % u["standardDSv3Family"].current_value)
    check(u["standardDSv3Family"].unit == "Count", "unit %r" % u["standardDSv3Family"].unit)
    return "standardDSv3Family %d of %d" % (u["standardDSv3Family"].current_value, u["standardDSv3Family"].limit)


@case("VM sizes of the location: Standard_D2s_v3 with 2 cores")
def _():
    s = {x.name: x for x in compute.virtual_machine_sizes.list(LOC)}
    check("Standard_D2s_v3" in s, "sizes %r" % sorted(s)[:10])
    check(s["Standard_D2s_v3"].number_of_cores == 2, "cores %r" % s["Standard_D2s_v3"].number_of_cores)
    return "%d sizes" % len(s)


@case("Resource SKUs with $filter=location eq 'eastus': virtualMachines SKUs")
def _():
    skus = [s for s in compute.resource_skus.list(filter="location eq '%s'" % LOC)
            if s.resource_type == "virtualMachines"]
    names = {s.name: s for s in skus}
    check("Standard_D2s_v3" in names, "%d SKUs, no Standard_D2s_v3" % len(skus))
    caps = {c.name: c.value for c in names["Standard_D2s_v3"].capabilities or []}
    check(caps.get("vCPUs") == "2", "capabilities %r" % caps)
    return "%d VM SKUs" % len(skus)


@case("NIC get (azure-mgmt-network): the VM's NIC, private IP 127.0.0.1")
def _():
    net = NetworkManagementClient(cred, SUB, base_url=EMU + "/", credential_scopes=[ARM_SCOPE])
    nic = net.network_interfaces.get(RG, "sdk-vm1-nic")
    ip = nic.ip_configurations[0].private_ip_address
    check(ip == "127.0.0.1", "privateIPAddress %r" % ip)
    return nic.id


@case("NIC's ipConfiguration names its subnet (subnet.id)")
def _():
    net = NetworkManagementClient(cred, SUB, base_url=EMU + "/", credential_scopes=[ARM_SCOPE])
    nic = net.network_interfaces.get(RG, "sdk-vm1-nic")
    sub = nic.ip_configurations[0].subnet
    check(sub is not None and sub.id.endswith("/subnets/default"), "subnet %r" % (sub and sub.id))


@case("subscriptions list (GET /subscriptions, azure-mgmt-resource's SubscriptionClient)")
def _():
    subs = [x.subscription_id for x in SubscriptionClient(cred, base_url=EMU + "/", credential_scopes=[ARM_SCOPE]).subscriptions.list()]
    check(SUB in subs, "subscriptions %r" % subs)


@case("VM list with $expand=instanceView and no $filter is refused, 400 InvalidParameter (as ARM does)")
def _():
    r = raw("GET", "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines?api-version=2022-08-01&$expand=instanceView" % (SUB, RG))
    check(r.status_code == 400, "status %d" % r.status_code)
    check(r.json()["error"]["code"] == "InvalidParameter", "answer %s" % r.text()[:200])


@case("api-versions: a malformed one is 400 InvalidApiVersionParameter, an unregistered one 400 NoRegisteredProviderFound")
def _():
    vm = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/sdk-vm1" % (SUB, RG)
    for v, code in (("2022-8-1x", "InvalidApiVersionParameter"), ("2099-01-01", "NoRegisteredProviderFound")):
        r = raw("GET", vm + "?api-version=" + v)
        check(r.status_code == 400 and r.json()["error"]["code"] == code,
              "api-version %s: %d %s" % (v, r.status_code, r.text()[:200]))


@case("the product's own api-versions (compute 2024-07-01, network 2023-09-01) are accepted beside the SDK's")
def _():
    r = raw("GET", "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/sdk-vm1?api-version=2024-07-01" % (SUB, RG))
    check(r.status_code == 200, "compute: %d %s" % (r.status_code, r.text()[:200]))
    r = raw("GET", "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkInterfaces/sdk-vm1-nic?api-version=2023-09-01" % (SUB, RG))
    check(r.status_code == 200, "network: %d %s" % (r.status_code, r.text()[:200]))


@case("a Linux VM with password login disabled and no SSH key is refused, 400 InvalidParameter")
def _():
    b = vm_body("sdk-nokey")
    del b["properties"]["osProfile"]["linuxConfiguration"]["ssh"]
    try:
        compute.virtual_machines.begin_create_or_update(RG, "sdk-nokey", b).result(timeout=30)
    except HttpResponseError as e:
        check(azure_error(e) == (400, "InvalidParameter"), "got %r" % (azure_error(e),))
        check("Authentication using either SSH or by user name and password must be enabled in Linux profile" in e.error.message,
              "message %r" % e.error.message)
        return e.error.message[:80]
    compute.virtual_machines.begin_delete(RG, "sdk-nokey").result(timeout=30)
    raise AssertionError("the VM was created")


@case("a token whose audience is Key Vault's is refused by ARM, 401 InvalidAuthenticationTokenAudience")
def _():
    tok = cred.get_token("https://vault.azure.net/.default")

    class Vault:
        def get_token(self, *scopes, **kwargs):
            return tok
    c = ComputeManagementClient(Vault(), SUB, base_url=EMU + "/", credential_scopes=[ARM_SCOPE])
    try:
        c.virtual_machines.get(RG, "sdk-vm1")
    except ClientAuthenticationError as e:
        check(azure_error(e) == (401, "InvalidAuthenticationTokenAudience"), "got %r" % (azure_error(e),))
        return e.error.message[:70]
    raise AssertionError("ARM accepted it")


# ---- errors
@case("404: get of a missing VM is ResourceNotFoundError, code ResourceNotFound")
def _():
    try:
        compute.virtual_machines.get(RG, "sdk-missing")
    except ResourceNotFoundError as e:
        check(azure_error(e) == (404, "ResourceNotFound"), "got %r" % (azure_error(e),))
        return e.error.message[:80]
    raise AssertionError("no error")


@case("409: delete under a CanNotDelete lock is ScopeLocked")
def _():
    admin("/emulator/faults", {"locked": True})
    try:
        compute.virtual_machines.begin_delete(RG, "sdk-vm4").result(timeout=30)
    except HttpResponseError as e:
        check(azure_error(e) == (409, "ScopeLocked"), "got %r" % (azure_error(e),))
        return e.error.message[:80]
    finally:
        admin("/emulator/faults", {"locked": False})
    raise AssertionError("delete succeeded under the lock")


@case("429: writes past ARM's subscription limit answer Retry-After (retries off)")
def _():
    admin("/emulator/faults", {"write_burst": 1, "write_rate": 0.05})
    try:
        for _ in range(3):
            compute.virtual_machines.begin_deallocate(RG, "sdk-vm4", retry_total=0).result(timeout=30)
    except HttpResponseError as e:
        check(e.status_code == 429, "got %r" % (azure_error(e),))
        ra = e.response.headers.get("Retry-After")
        check(ra and ra.isdigit() and int(ra) >= 1, "Retry-After %r" % ra)
        return "%s, Retry-After %s" % (e.error.code if e.error else "?", ra)
    finally:
        admin("/emulator/faults", {"write_burst": 1000, "write_rate": 1000})
    raise AssertionError("no 429")


@case("429 is retried by azure-core's retry policy after Retry-After, then succeeds")
def _():
    admin("/emulator/faults", {"write_burst": 1, "write_rate": 1})
    try:
        t0 = time.time()
        compute.virtual_machines.begin_start(RG, "sdk-vm4").result(timeout=30)
        compute.virtual_machines.begin_start(RG, "sdk-vm4").result(timeout=30)
        return "%.1f s" % (time.time() - t0)
    finally:
        admin("/emulator/faults", {"write_burst": 1000, "write_rate": 1000})


@case("AllocationFailed: the create is accepted and its LRO fails with Azure's code and message")
def _():
    admin("/emulator/faults", {"capacity": {"Standard_F2s_v2": "AllocationFailed"}})
    try:
        compute.virtual_machines.begin_create_or_update(
            RG, "sdk-alloc", vm_body("sdk-alloc", "Standard_F2s_v2")).result(timeout=30)
    except HttpResponseError as e:
        check(e.error and e.error.code == "AllocationFailed", "got %r" % (azure_error(e),))
        check("sufficient capacity" in e.error.message, "message %r" % e.error.message)
        return e.error.message[:70]
    finally:
        admin("/emulator/faults", {"capacity": {}})
        try:
            compute.virtual_machines.begin_delete(RG, "sdk-alloc").result(timeout=30)
        except HttpResponseError:
            pass
    raise AssertionError("the create succeeded")


@case("quota: a create over the family's vCPU quota is 409 OperationNotAllowed with Azure's quota text")
def _():
    admin("/emulator/faults", {"quota": {"standardFSv2Family": 1}})
    try:
        compute.virtual_machines.begin_create_or_update(
            RG, "sdk-quota", vm_body("sdk-quota", "Standard_F2s_v2")).result(timeout=30)
    except HttpResponseError as e:
        check(e.status_code == 409, "status %r" % e.status_code)
        check(e.error and e.error.code == "OperationNotAllowed" and
              "exceeding approved" in e.error.message and "quota" in e.error.message,
              "got %r: %r" % (e.error.code if e.error else None, e.error.message if e.error else e.message))
        return e.error.message[:90]
    finally:
        admin("/emulator/faults", {"quota": {"standardFSv2Family": 10000}})
    raise AssertionError("the create succeeded")


@case("401: a request with a token the emulator did not issue is ClientAuthenticationError, InvalidAuthenticationToken")
def _():
    class Bad:
        def get_token(self, *scopes, **kwargs):
            return AccessToken("not-a-token", int(time.time()) + 3600)
    c = ComputeManagementClient(Bad(), SUB, base_url=EMU + "/", credential_scopes=[ARM_SCOPE])
    try:
        c.virtual_machines.get(RG, "sdk-vm1")
    except ClientAuthenticationError as e:
        check(azure_error(e) == (401, "InvalidAuthenticationToken"), "got %r" % (azure_error(e),))
        return e.error.message[:70]
    raise AssertionError("no error")


# ---- scale sets (Flexible orchestration)
def vmss_body(capacity):
    vm = vm_body("x")["properties"]
    prof = {
        "storageProfile": vm["storageProfile"],
        "osProfile": dict(vm["osProfile"], computerNamePrefix="sdkss"),
        "networkProfile": {
            "networkApiVersion": "2020-11-01",
            "networkInterfaceConfigurations": [{
                "name": "nic",
                "properties": {"primary": True,
                               "ipConfigurations": vm["networkProfile"]["networkInterfaceConfigurations"][0]["properties"]["ipConfigurations"]}}]},
        "diagnosticsProfile": vm["diagnosticsProfile"],
        "userData": vm["userData"]}
    del prof["osProfile"]["computerName"]
    return {"location": LOC, "sku": {"name": "Standard_D2s_v3", "capacity": capacity},
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}},
            "properties": {"orchestrationMode": "Flexible", "platformFaultDomainCount": 1,
                           "virtualMachineProfile": prof}}


@case("scale set lifecycle: create (Flexible), scale out by PATCH, list its VMs by $filter, delete instances, delete the set")
def _():
    ss = compute.virtual_machine_scale_sets.begin_create_or_update(RG, "sdkss", vmss_body(0)).result(timeout=30)
    check(ss.provisioning_state == "Succeeded" and ss.orchestration_mode == "Flexible",
          "state %r mode %r" % (ss.provisioning_state, ss.orchestration_mode))
    ss = compute.virtual_machine_scale_sets.begin_update(RG, "sdkss", {"sku": {"capacity": 3}}).result(timeout=30)
    check(ss.sku.capacity == 3, "capacity after PATCH %r" % ss.sku.capacity)
    check("sdkss" in [s.name for s in compute.virtual_machine_scale_sets.list(RG)], "set not listed")
    vms = list(compute.virtual_machines.list(RG, filter="virtualMachineScaleSet/id eq '%s'" % ss.id))
    check(len(vms) == 3, "%d VMs by $filter" % len(vms))
    check(all(v.virtual_machine_scale_set.id.lower() == ss.id.lower() for v in vms), "a VM not of the set")
    compute.virtual_machine_scale_sets.begin_delete_instances(
        RG, "sdkss", {"instanceIds": [vms[0].name]}).result(timeout=30)
    ss = compute.virtual_machine_scale_sets.get(RG, "sdkss")
    check(ss.sku.capacity == 2, "capacity after delete_instances %r" % ss.sku.capacity)
    compute.virtual_machine_scale_sets.begin_delete(RG, "sdkss").result(timeout=30)
    left = [v.name for v in compute.virtual_machines.list(RG) if v.name.startswith("sdkss")]
    check(not left, "VMs left after the set's delete: %r" % left)
    try:
        compute.virtual_machine_scale_sets.get(RG, "sdkss")
        raise AssertionError("the set is still there")
    except ResourceNotFoundError:
        pass
    return "3 VMs made, 1 deleted by id, the set and the rest deleted"


# ---- managed identity (IMDS over plain http)
os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = IMDS


@case("ManagedIdentityCredential (IMDS at AZURE_POD_IDENTITY_AUTHORITY_HOST) gets a token ARM accepts")
def _():
    mi = ManagedIdentityCredential()
    tok = mi.get_token(ARM_SCOPE)
    check(tok.token and tok.expires_on > time.time() + 600, "expires_on %r" % tok.expires_on)
    c = ComputeManagementClient(mi, SUB, base_url=EMU + "/", credential_scopes=[ARM_SCOPE])
    vm = c.virtual_machines.get(RG, "sdk-vm1")
    check(vm.name == "sdk-vm1", "GET with the IMDS token: %r" % vm.name)


@case("ManagedIdentityCredential of an identity the VM does not carry: CredentialUnavailableError")
def _():
    mi = ManagedIdentityCredential(identity_config={"vm": "sdk-vm1", "msi_res_id": IDENTITY.replace("slurm-nodes", "nobody")})
    try:
        mi.get_token(ARM_SCOPE)
    except CredentialUnavailableError as e:
        return str(e)[:80]
    raise AssertionError("got a token")


# ---- Key Vault
def vault_cred():
    # The VM's user-assigned identity; vm= is the emulator's way to say which
    # VM asks (all emulated VMs share 127.0.0.1), passed as IMDS query
    # parameters the way identity_config passes msi_res_id.
    return ManagedIdentityCredential(identity_config={"vm": "sdk-vm1", "msi_res_id": IDENTITY})


def get_munge(url, cls=None, **kw):
    sc = SecretClient(vault_url=url, credential=vault_cred(), **kw)
    s = sc.get_secret("munge", **({"cls": cls} if cls else {}))
    want = base64.b64encode(open(os.environ["AZURE_EMULATOR_MUNGE_KEY"], "rb").read()).decode()
    check(s.value == want, "value differs (%d characters, want %d)" % (len(s.value or ""), len(want)))
    check(s.name == "munge" and s.properties.version, "name %r version %r" % (s.name, s.properties.version))
    return s


@case("Key Vault: the challenge's 401 (no token) carries WWW-Authenticate with authorization and resource")
def _():
    ctx = ssl.create_default_context(cafile=CA)
    try:
        urllib.request.urlopen(EMU + "/keyvault/kv1/secrets/munge?api-version=7.4", context=ctx)
    except urllib.error.HTTPError as e:
        check(e.code == 401, "status %d" % e.code)
        h = e.headers.get("WWW-Authenticate", "")
        check(h.startswith("Bearer ") and "authorization=" in h and 'resource="https://vault.azure.net"' in h,
              "WWW-Authenticate %r" % h)
        return h
    raise AssertionError("200 without a token")


@case("Key Vault path-style (/keyvault/kv1): get_secret through the 401 challenge with the VM identity's token")
def _():
    # The SDK parses a secret's id only in the real shape
    # (https://{vault}.vault.azure.net/secrets/{name}/{version}): the
    # path-style id is read here from the raw answer and set aside.
    seen = {}

    def keep(pipeline_response, bundle, headers):
        seen["status"] = pipeline_response.http_response.status_code
        seen["id"] = bundle.id
        bundle.id = "https://kv1.vault.azure.net/secrets/munge/" + bundle.id.rsplit("/", 1)[1]
        return bundle
    get_munge(EMU + "/keyvault/kv1", verify_challenge_resource=False, cls=keep)
    check(seen.get("status") == 200 and seen["id"].startswith(EMU + "/keyvault/kv1/secrets/munge/"),
          "answer %r" % seen)
    return seen["id"]


@case("Key Vault host-style https://kv1.vault.azure.net: get_secret with the challenge's resource verified")
def _():
    s = get_munge("https://kv1.vault.azure.net")
    check(s.id.startswith("https://kv1.vault.azure.net/secrets/munge/"), "id %r" % s.id)
    return s.id


@case("Key Vault: a secret that does not exist is ResourceNotFoundError, SecretNotFound")
def _():
    sc = SecretClient(vault_url=EMU + "/keyvault/kv1", credential=vault_cred(), verify_challenge_resource=False)
    try:
        sc.get_secret("nosuch")
    except ResourceNotFoundError as e:
        check(azure_error(e) == (404, "SecretNotFound"), "got %r" % (azure_error(e),))
        return e.error.message[:60]
    raise AssertionError("found")


# ---- delete
@case("VM delete: begin_delete polls its LRO (Location) to the end; GET is then 404")
def _():
    for n in ("sdk-vm1", "sdk-vm2", "sdk-vm3", "sdk-vm4"):
        compute.virtual_machines.begin_delete(RG, n).result(timeout=30)
    try:
        compute.virtual_machines.get(RG, "sdk-vm1")
        raise AssertionError("sdk-vm1 is still there")
    except ResourceNotFoundError:
        pass
    left = [v.name for v in compute.virtual_machines.list(RG)]
    check(not left, "VMs left: %r" % left)


@case("a VM left for the az cases (sdk-kept)")
def _():
    compute.virtual_machines.begin_create_or_update(RG, "sdk-kept", vm_body("sdk-kept")).result(timeout=30)


print("%d passed, %d failed (azure-sdk.py)" % (passed, len(failed)))
sys.exit(1 if failed else 0)
