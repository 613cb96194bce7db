/*
 * faultshim: a PKCS#11 module in front of a real one (KMIP_FAULT_MODULE)
 * that fails every call the adapter makes with CKR_DEVICE_ERROR while the
 * file KMIP_FAULT_FILE exists, the way a network HSM's client library
 * fails when its appliance is gone; C_Initialize and C_Finalize pass, so
 * the adapter's reconnection runs as it would. Built by the integration
 * tests (gcc -shared) against miekg/pkcs11's headers.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include "pkcs11go.h"

static CK_FUNCTION_LIST real, shim;

static int down(void) {
	const char *f = getenv("KMIP_FAULT_FILE");
	return f != NULL && access(f, F_OK) == 0;
}

#define WRAP(name, params, args) \
	static CK_RV shim_##name params { \
		if (down()) return CKR_DEVICE_ERROR; \
		return real.name args; \
	}

WRAP(C_GetSlotList, (CK_BBOOL p, CK_SLOT_ID_PTR l, CK_ULONG_PTR n), (p, l, n))
WRAP(C_GetTokenInfo, (CK_SLOT_ID s, CK_TOKEN_INFO_PTR i), (s, i))
WRAP(C_OpenSession, (CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR a, CK_NOTIFY n, CK_SESSION_HANDLE_PTR h), (s, f, a, n, h))
WRAP(C_Login, (CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, CK_ULONG l), (s, u, p, l))
WRAP(C_GenerateRandom, (CK_SESSION_HANDLE s, CK_BYTE_PTR p, CK_ULONG n), (s, p, n))
WRAP(C_FindObjectsInit, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, t, n))
WRAP(C_GetAttributeValue, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, o, t, n))
WRAP(C_EncryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
WRAP(C_Encrypt, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o, CK_ULONG_PTR ol), (s, d, dl, o, ol))
WRAP(C_DecryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
WRAP(C_Decrypt, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o, CK_ULONG_PTR ol), (s, d, dl, o, ol))
WRAP(C_SignInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
WRAP(C_VerifyInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
WRAP(C_GenerateKey, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k), (s, m, t, n, k))
WRAP(C_WrapKey, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE w, CK_OBJECT_HANDLE k, CK_BYTE_PTR o, CK_ULONG_PTR ol), (s, m, w, k, o, ol))
WRAP(C_UnwrapKey, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE u, CK_BYTE_PTR w, CK_ULONG wl, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k), (s, m, u, w, wl, t, n, k))

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {
	if (real.C_Initialize == NULL) {
		const char *path = getenv("KMIP_FAULT_MODULE");
		void *h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
		if (h == NULL) return CKR_GENERAL_ERROR;
		CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
		CK_FUNCTION_LIST_PTR list;
		if (get == NULL || get(&list) != CKR_OK) return CKR_GENERAL_ERROR;
		real = *list;
		shim = *list;
		shim.C_GetSlotList = shim_C_GetSlotList;
		shim.C_GetTokenInfo = shim_C_GetTokenInfo;
		shim.C_OpenSession = shim_C_OpenSession;
		shim.C_Login = shim_C_Login;
		shim.C_GenerateRandom = shim_C_GenerateRandom;
		shim.C_FindObjectsInit = shim_C_FindObjectsInit;
		shim.C_GetAttributeValue = shim_C_GetAttributeValue;
		shim.C_EncryptInit = shim_C_EncryptInit;
		shim.C_Encrypt = shim_C_Encrypt;
		shim.C_DecryptInit = shim_C_DecryptInit;
		shim.C_Decrypt = shim_C_Decrypt;
		shim.C_SignInit = shim_C_SignInit;
		shim.C_VerifyInit = shim_C_VerifyInit;
		shim.C_GenerateKey = shim_C_GenerateKey;
		shim.C_WrapKey = shim_C_WrapKey;
		shim.C_UnwrapKey = shim_C_UnwrapKey;
	}
	*out = &shim;
	return CKR_OK;
}
