//! Cameras through nokhwa (V4L2 on Linux, AVFoundation on macOS, Media Foundation on
//! Windows): list them with their formats, open one at a requested size and rate, and hand
//! out I420 frames, converting from whatever the camera sends (YUYV, NV12, MJPEG, RGB).

use crate::frame::VideoFrame;
use crate::{MediaError, Result};

/// One way a camera can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CameraMode {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// The camera's pixel format (FourCC-like name).
    pub format: &'static str,
}

/// A camera as a picker shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraInfo {
    /// Index to open it by.
    pub index: u32,
    /// Name for people.
    pub name: String,
    /// What it can do (empty if it couldn't be asked without opening it).
    pub modes: Vec<CameraMode>,
}

#[cfg(feature = "camera")]
mod imp {
    use super::*;
    use crate::clock::now_us;
    use crate::video::convert::{PixelFormat, to_i420};
    use nokhwa::utils::{
        ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
        Resolution,
    };

    const USABLE: &[FrameFormat] = &[
        FrameFormat::YUYV,
        FrameFormat::NV12,
        FrameFormat::MJPEG,
        FrameFormat::RAWRGB,
    ];

    fn format_name(f: FrameFormat) -> &'static str {
        match f {
            FrameFormat::MJPEG => "MJPG",
            FrameFormat::YUYV => "YUYV",
            FrameFormat::NV12 => "NV12",
            FrameFormat::GRAY => "GREY",
            FrameFormat::RAWRGB => "RGB3",
            FrameFormat::RAWBGR => "BGR3",
        }
    }

    /// Sorts a nokhwa error into the error a person can act on.
    pub(super) fn classify(index: Option<u32>, e: nokhwa::NokhwaError) -> MediaError {
        let text = e.to_string();
        let lower = text.to_lowercase();
        if lower.contains("permission denied")
            || lower.contains("not authorized")
            || lower.contains("eacces")
        {
            MediaError::CameraPermission(text)
        } else if lower.contains("no such file")
            || lower.contains("no such device")
            || lower.contains("not found")
        {
            MediaError::NoCamera(index)
        } else {
            MediaError::Camera(text)
        }
    }

    pub fn list() -> Result<Vec<CameraInfo>> {
        let cameras = match nokhwa::query(ApiBackend::Auto) {
            Ok(c) => c,
            // No camera subsystem at all (no /dev/video*, say) is simply no camera.
            Err(e) => {
                tracing::debug!("camera query: {e}");
                return Ok(Vec::new());
            }
        };
        let mut out = Vec::new();
        for info in cameras {
            let Ok(index) = info.index().as_index() else {
                continue;
            };
            let modes = nokhwa::Camera::new(
                CameraIndex::Index(index),
                RequestedFormat::with_formats(RequestedFormatType::None, USABLE),
            )
            .and_then(|mut cam| cam.compatible_camera_formats())
            .map(|formats| {
                formats
                    .into_iter()
                    .filter(|f| USABLE.contains(&f.format()))
                    .map(|f| CameraMode {
                        width: f.width(),
                        height: f.height(),
                        fps: f.frame_rate(),
                        format: format_name(f.format()),
                    })
                    .collect()
            })
            .unwrap_or_default();
            out.push(CameraInfo {
                index,
                name: info.human_name(),
                modes,
            });
        }
        Ok(out)
    }

    pub struct Inner {
        camera: nokhwa::Camera,
    }

    impl Inner {
        pub fn open(index: u32, width: u32, height: u32, fps: u32) -> Result<Inner> {
            if !std::path::Path::new(&format!("/dev/video{index}")).exists()
                && cfg!(target_os = "linux")
            {
                return Err(MediaError::NoCamera(Some(index)));
            }
            let wanted = CameraFormat::new(Resolution::new(width, height), FrameFormat::YUYV, fps);
            let request =
                RequestedFormat::with_formats(RequestedFormatType::Closest(wanted), USABLE);
            let mut camera = nokhwa::Camera::new(CameraIndex::Index(index), request)
                .map_err(|e| classify(Some(index), e))?;
            camera.open_stream().map_err(|e| classify(Some(index), e))?;
            Ok(Inner { camera })
        }

        pub fn mode(&self) -> CameraMode {
            let f = self.camera.camera_format();
            CameraMode {
                width: f.width(),
                height: f.height(),
                fps: f.frame_rate(),
                format: format_name(f.format()),
            }
        }

        pub fn next_frame(&mut self) -> Result<VideoFrame> {
            let buffer = self.camera.frame().map_err(|e| classify(None, e))?;
            let pts = now_us();
            let res = buffer.resolution();
            // Odd sizes can't be I420: drop the last column or row.
            let (w, h) = (res.width() & !1, res.height() & !1);
            let data = buffer.buffer();
            match buffer.source_frame_format() {
                FrameFormat::YUYV if w == res.width() => {
                    to_i420(PixelFormat::Yuyv, w, h, data, pts)
                }
                FrameFormat::NV12 if (w, h) == (res.width(), res.height()) => {
                    to_i420(PixelFormat::Nv12, w, h, data, pts)
                }
                FrameFormat::RAWRGB if w == res.width() => {
                    to_i420(PixelFormat::Rgb, w, h, data, pts)
                }
                FrameFormat::MJPEG => {
                    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
                        data,
                        zune_jpeg::zune_core::options::DecoderOptions::default()
                            .jpeg_set_out_colorspace(
                                zune_jpeg::zune_core::colorspace::ColorSpace::RGB,
                            ),
                    );
                    let rgb = decoder
                        .decode()
                        .map_err(|e| MediaError::Camera(format!("bad MJPEG frame: {e}")))?;
                    let (jw, jh) = decoder
                        .dimensions()
                        .map(|(a, b)| (a as u32, b as u32))
                        .ok_or_else(|| {
                            MediaError::Camera("MJPEG frame without dimensions".into())
                        })?;
                    if jw % 2 != 0 || jh % 2 != 0 {
                        return Err(MediaError::Camera(format!(
                            "MJPEG frame of odd size {jw}x{jh}"
                        )));
                    }
                    to_i420(PixelFormat::Rgb, jw, jh, &rgb, pts)
                }
                other => Err(MediaError::Camera(format!(
                    "camera sent {} at {}x{}, which Weft can't convert",
                    format_name(other),
                    res.width(),
                    res.height()
                ))),
            }
        }
    }

    impl Drop for Inner {
        fn drop(&mut self) {
            let _ = self.camera.stop_stream();
        }
    }
}

/// Every camera attached (an empty list where there are none).
pub fn list_cameras() -> Result<Vec<CameraInfo>> {
    #[cfg(feature = "camera")]
    {
        imp::list()
    }
    #[cfg(not(feature = "camera"))]
    {
        Err(MediaError::CameraUnsupported)
    }
}

/// An open camera handing out I420 frames.
pub struct Camera {
    #[cfg(feature = "camera")]
    inner: imp::Inner,
    mirror: bool,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("mirror", &self.mirror)
            .finish()
    }
}

impl Camera {
    /// Opens camera `index` at the mode closest to `width`x`height` at `fps`.
    /// [`MediaError::NoCamera`] if there is none, [`MediaError::CameraPermission`] if the
    /// system refuses access.
    pub fn open(index: u32, width: u32, height: u32, fps: u32) -> Result<Camera> {
        crate::frame::check_dimensions(width, height)?;
        #[cfg(feature = "camera")]
        {
            Ok(Camera {
                inner: imp::Inner::open(index, width, height, fps)?,
                mirror: false,
            })
        }
        #[cfg(not(feature = "camera"))]
        {
            let _ = (index, fps);
            Err(MediaError::CameraUnsupported)
        }
    }

    /// Flips frames left to right (for a self-view).
    pub fn set_mirror(&mut self, on: bool) {
        self.mirror = on;
    }

    /// The mode the camera actually runs at.
    pub fn mode(&self) -> CameraMode {
        #[cfg(feature = "camera")]
        {
            self.inner.mode()
        }
        #[cfg(not(feature = "camera"))]
        {
            CameraMode {
                width: 0,
                height: 0,
                fps: 0,
                format: "",
            }
        }
    }

    /// The next frame, waiting for the camera.
    pub fn next_frame(&mut self) -> Result<VideoFrame> {
        #[cfg(feature = "camera")]
        {
            let f = self.inner.next_frame()?;
            Ok(if self.mirror { f.mirrored() } else { f })
        }
        #[cfg(not(feature = "camera"))]
        {
            Err(MediaError::CameraUnsupported)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "camera")]
    #[test]
    fn camera_errors_are_sorted_into_what_a_person_can_act_on() {
        use nokhwa::NokhwaError;
        let e = |s: &str| {
            imp::classify(
                Some(2),
                NokhwaError::OpenDeviceError("/dev/video2".into(), s.into()),
            )
        };
        assert!(matches!(
            e("Permission denied (os error 13)"),
            MediaError::CameraPermission(_)
        ));
        assert!(matches!(
            e("No such file or directory (os error 2)"),
            MediaError::NoCamera(Some(2))
        ));
        assert!(matches!(
            e("Device or resource busy"),
            MediaError::Camera(_)
        ));
        assert!(
            e("Permission denied")
                .to_string()
                .starts_with("permission to use the camera was refused")
        );
    }

    #[test]
    fn with_no_camera_attached_the_list_is_empty_and_opening_says_so() {
        if std::path::Path::new("/dev/video0").exists() {
            eprintln!("a camera is attached; this test is for machines without one");
            return;
        }
        #[cfg(feature = "camera")]
        {
            assert_eq!(list_cameras().unwrap(), Vec::new());
            let err = Camera::open(0, 640, 480, 30).unwrap_err();
            assert!(matches!(err, MediaError::NoCamera(Some(0))), "{err}");
            assert_eq!(err.to_string(), "no camera at index 0");
        }
        assert!(Camera::open(0, 641, 480, 30).is_err());
    }
}
