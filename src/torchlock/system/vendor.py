"""Vendor facts the host plans are built from, each with where it is published.

Facts only (URLs, file names, options, fingerprints, versions); the steps that use
them are in :mod:`torchlock.system.components`.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- NVIDIA driver ------------------------------------------------------------------------------
# Runfile URL pattern: NVIDIA's Unix driver archive, https://www.nvidia.com/en-us/drivers/unix/
# (the book's example: .../XFree86/Linux-x86_64/525.85.05/NVIDIA-Linux-x86_64-525.85.05.run).
DRIVER_DEFAULT_LINUX = "525.85.05"
DRIVER_RUNFILE_URL = (
    "https://us.download.nvidia.com/XFree86/Linux-x86_64/{v}/NVIDIA-Linux-x86_64-{v}.run"
)
# Data-center (Tesla) Windows driver, R525 branch; URL pattern of NVIDIA's driver downloads,
# https://www.nvidia.com/Download/index.aspx (GeForce installers have other names).
DRIVER_DEFAULT_WINDOWS = "528.89"
DRIVER_WINDOWS_URL = (
    "https://us.download.nvidia.com/tesla/{v}/"
    "{v}-data-center-tesla-desktop-win10-win11-64bit-dch-international.exe"
)
DRIVER_DOWNLOAD_PAGE = "https://www.nvidia.com/Download/index.aspx"
# "Disabling Nouveau" and the runfile's options (--silent: no questions, license accepted):
CUDA_LINUX_GUIDE = "https://docs.nvidia.com/cuda/cuda-installation-guide-linux/"
CUDA_WINDOWS_GUIDE = "https://docs.nvidia.com/cuda/cuda-installation-guide-microsoft-windows/"
NOUVEAU_BLACKLIST_FILE = "/etc/modprobe.d/blacklist-nouveau.conf"
NOUVEAU_BLACKLIST = "blacklist nouveau\noptions nouveau modeset=0\n"
NVIDIA_PCI_VENDOR = "10de"  # PCI vendor id of NVIDIA Corporation


# -- CUDA toolkit -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CudaRelease:
    version: str  # "12.0.1"
    linux_driver: str  # the driver bundled in the Linux runfile, part of its file name
    windows_driver: str  # the same for the Windows local installer

    @property
    def major_minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def base(self) -> str:
        return f"https://developer.download.nvidia.com/compute/cuda/{self.version}"

    @property
    def linux_file(self) -> str:
        return f"cuda_{self.version}_{self.linux_driver}_linux.run"

    @property
    def windows_file(self) -> str:
        return f"cuda_{self.version}_{self.windows_driver}_windows.exe"

    @property
    def md5_list(self) -> str:
        """NVIDIA publishes the md5 of every installer of a release in this file."""
        return f"{self.base}/docs/sidebar/md5sum.txt"

    @property
    def archive_page(self) -> str:
        return "https://developer.nvidia.com/cuda-{}-download-archive".format(
            self.version.replace(".", "-")
        )


# File names from NVIDIA's download archive pages (developer.nvidia.com/cuda-toolkit-archive).
CUDA_RELEASES: dict[str, CudaRelease] = {
    r.version: r
    for r in (
        CudaRelease(version="11.8.0", linux_driver="520.61.05", windows_driver="522.06"),
        CudaRelease(version="12.0.1", linux_driver="525.85.12", windows_driver="528.33"),
        CudaRelease(version="12.1.1", linux_driver="530.30.02", windows_driver="531.14"),
        CudaRelease(version="12.2.2", linux_driver="535.104.05", windows_driver="537.13"),
        CudaRelease(version="12.4.1", linux_driver="550.54.15", windows_driver="551.78"),
    )
}
CUDA_DEFAULT = "12.0.1"
# Minimum driver of each CUDA major under minor version compatibility (CUDA release notes,
# table 2; the same figures as src/torchlock/matrix/data/cuda.json).
CUDA_FAMILY_MIN_DRIVER: dict[str, tuple[str, str]] = {  # major -> (linux, windows)
    "11": ("450.80.02", "452.39"),
    "12": ("525.60.13", "527.41"),
}
# Windows installer subpackages for a toolkit without the display driver (CUDA Installation
# Guide for Microsoft Windows, "Install the CUDA Software", subpackage table).
CUDA_WINDOWS_SUBPACKAGES = (
    "nvcc",
    "cudart",
    "cuobjdump",
    "nvprune",
    "cupti",
    "cublas",
    "cublas_dev",
    "cufft",
    "cufft_dev",
    "curand",
    "curand_dev",
    "cusolver",
    "cusolver_dev",
    "cusparse",
    "cusparse_dev",
    "npp",
    "npp_dev",
    "nvrtc",
    "nvrtc_dev",
    "nvml_dev",
)

# -- conda --------------------------------------------------------------------------------------
# Miniforge: https://github.com/conda-forge/miniforge (each release asset has a .sha256 file
# next to it). Installer options -b (batch, license accepted) and -p PREFIX; Windows:
# /InstallationType=JustMe /RegisterPython=0 /S /D=PATH (conda's silent-mode documentation,
# https://docs.anaconda.com/anaconda/install/silent-mode/).
MINIFORGE_LATEST = "https://github.com/conda-forge/miniforge/releases/latest/download/{file}"
MINIFORGE_TAGGED = "https://github.com/conda-forge/miniforge/releases/download/{version}/{file}"
MINIFORGE_PAGE = "https://github.com/conda-forge/miniforge/releases"
# Anaconda Distribution archive; its index page lists the SHA-256 of every installer.
ANACONDA_DEFAULT = "2023.09-0"
ANACONDA_URL = "https://repo.anaconda.com/archive/{file}"
ANACONDA_ARCHIVE = "https://repo.anaconda.com/archive/"

# -- nginx --------------------------------------------------------------------------------------
# https://nginx.org/en/linux_packages.html: prerequisites, the signing key and its
# fingerprint, the apt source line and pin, the yum repository file.
NGINX_PACKAGES_PAGE = "https://nginx.org/en/linux_packages.html"
NGINX_SECURITY_PAGE = "https://nginx.org/en/security_advisories.html"
NGINX_DOWNLOAD_PAGE = "https://nginx.org/en/download.html"
NGINX_SIGNING_KEY = "https://nginx.org/keys/nginx_signing.key"
NGINX_KEY_FINGERPRINT = "573BFD6B3D8FBC641079A6ABABF5BD827BD9BF62"
NGINX_KEYRING = "/usr/share/keyrings/nginx-archive-keyring.gpg"
# The stable branch nginx.org maintains (1.28, April 2025); 1.24 went out of support in 2024.
NGINX_DEFAULT = "1.28.0"
NGINX_ZIP_URL = "https://nginx.org/download/nginx-{v}.zip"


@dataclass(frozen=True, slots=True, kw_only=True)
class Advisory:
    cve: str
    fixed_in: tuple[tuple[int, int, int], ...]  # the first fixed release of each branch
    summary: str
    severity: str  # as nginx.org grades it


# From https://nginx.org/en/security_advisories.html. A version older than the first fix of
# its branch (and of every later branch) is affected.
NGINX_ADVISORIES = (
    Advisory(
        cve="CVE-2021-23017",
        fixed_in=((1, 20, 1), (1, 21, 0)),
        summary="1-byte memory overwrite in the resolver",
        severity="medium",
    ),
    Advisory(
        cve="CVE-2022-41741",
        fixed_in=((1, 22, 1), (1, 23, 2)),
        summary="memory corruption in the ngx_http_mp4_module",
        severity="medium",
    ),
    Advisory(
        cve="CVE-2024-7347",
        fixed_in=((1, 26, 2), (1, 27, 1)),
        summary="buffer overread in the ngx_http_mp4_module",
        severity="low",
    ),
    Advisory(
        cve="CVE-2025-23419",
        fixed_in=((1, 26, 3), (1, 27, 4)),
        summary="SSL session reuse vulnerability",
        severity="medium",
    ),
)
# Older than this is affected by the resolver overwrite that makes Ubuntu 22.04's 1.18 a
# fail: doctor fails it and plans refuse it.
NGINX_FAIL_BELOW = (1, 20, 1)

# -- Git ----------------------------------------------------------------------------------------
GIT_LINUX_PAGE = "https://git-scm.com/download/linux"
GIT_WINDOWS_PAGE = "https://git-scm.com/download/win"  # names: winget install --id Git.Git -e
