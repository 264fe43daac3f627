/*
 * cloud.c - Azure's clouds (see cloud.h).  Sources for every value: doc/NOTES,
 * "Clouds".
 */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "cloud.h"

static const azml_cloud_t clouds[] = {
	{ "AzurePublic", "https://management.azure.com",
	  "https://management.azure.com/", "https://login.microsoftonline.com",
	  ".vault.azure.net", "https://vault.azure.net" },
	{ "AzureUSGovernment", "https://management.usgovcloudapi.net",
	  "https://management.usgovcloudapi.net/",
	  "https://login.microsoftonline.us", ".vault.usgovcloudapi.net",
	  "https://vault.usgovcloudapi.net" },
	{ "AzureChina", "https://management.chinacloudapi.cn",
	  "https://management.chinacloudapi.cn/",
	  "https://login.chinacloudapi.cn", ".vault.azure.cn",
	  "https://vault.azure.cn" },
};

#define NCLOUDS (sizeof(clouds) / sizeof(clouds[0]))

const azml_cloud_t *azml_cloud_find(const char *name)
{
	for (size_t i = 0; name && i < NCLOUDS; i++)
		if (!strcasecmp(clouds[i].name, name))
			return &clouds[i];
	return NULL;
}

const azml_cloud_t *azml_cloud_of_vault_host(const char *host)
{
	size_t hl = host ? strcspn(host, ":/") : 0;

	for (size_t i = 0; i < NCLOUDS; i++) {
		size_t sl = strlen(clouds[i].vault_suffix);

		if (hl > sl && !strncasecmp(host + hl - sl,
					    clouds[i].vault_suffix, sl))
			return &clouds[i];
	}
	return NULL;
}

const char *azml_cloud_vault_audience(const char *url)
{
	const char *host = url ? strstr(url, "://") : NULL;
	const azml_cloud_t *c = host ? azml_cloud_of_vault_host(host + 3) :
				NULL;

	return (c ? c : &clouds[0])->vault_audience;
}

const char *azml_cloud_names(void)
{
	return "AzurePublic, AzureUSGovernment, AzureChina";
}
