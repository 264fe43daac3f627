/*
 * cloud.h - Azure's clouds (Cloud= in azureml.conf): each one's Resource
 * Manager endpoint, Entra ID authority, token audiences and Key Vault DNS
 * suffix, as Microsoft documents them (doc/NOTES, "Clouds").  ArmEndpoint=
 * and AuthorityHost= override the endpoints (the emulator); the audiences
 * follow the cloud whatever the endpoint.
 *
 * Core library: pure tables and lookups, no I/O.
 */
#ifndef AZML_CLOUD_H
#define AZML_CLOUD_H

typedef struct {
	const char *name;		/* "AzurePublic", as Cloud= names it */
	const char *arm_endpoint;	/* https://management.azure.com */
	const char *arm_audience;	/* the resource an ARM token is for,
					 * "https://management.azure.com/" */
	const char *authority;		/* https://login.microsoftonline.com */
	const char *vault_suffix;	/* ".vault.azure.net" */
	const char *vault_audience;	/* "https://vault.azure.net" */
} azml_cloud_t;

#define AZML_CLOUD_DEFAULT "AzurePublic"

/* The cloud named NAME (any case), or NULL. */
const azml_cloud_t *azml_cloud_find(const char *name);

/* The cloud whose Key Vault suffix HOST ends with ("kv1.vault.azure.cn":
 * AzureChina; a port after the host is allowed), or NULL. */
const azml_cloud_t *azml_cloud_of_vault_host(const char *host);

/* The audience of a token for the secret at URL (a secret URL that
 * azml_secret_url_ok() accepted): its vault's cloud's, or AzurePublic's
 * for the emulator's http://127.0.0.1:PORT/keyvault/... */
const char *azml_cloud_vault_audience(const char *url);

/* "AzurePublic, AzureUSGovernment, AzureChina": for messages. */
const char *azml_cloud_names(void);

#endif
