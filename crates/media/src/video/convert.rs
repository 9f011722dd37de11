//! Pixel-format conversion to and from I420 with `yuvutils-rs` (BT.601, limited range, as
//! cameras and H.264 use it): YUYV and NV12 from cameras, RGB/RGBA/BGRA from decoders and
//! screen grabs, and RGBA out for painting.

use yuvutils_rs::{
    YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange, YuvStandardMatrix,
};

use crate::frame::{VideoFrame, check_dimensions};
use crate::{MediaError, Result};

/// Source layouts we convert from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    /// Packed 4:2:2, Y0 U Y1 V.
    Yuyv,
    /// Y plane, then interleaved UV at half resolution.
    Nv12,
    /// I420 already.
    I420,
    /// 8-bit RGB.
    Rgb,
    /// 8-bit RGBA.
    Rgba,
    /// 8-bit BGRA.
    Bgra,
}

impl PixelFormat {
    /// Bytes a picture of this size takes in this layout.
    pub fn frame_len(self, width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        match self {
            PixelFormat::Yuyv => w * h * 2,
            PixelFormat::Nv12 | PixelFormat::I420 => VideoFrame::i420_len(width, height),
            PixelFormat::Rgb => w * h * 3,
            PixelFormat::Rgba | PixelFormat::Bgra => w * h * 4,
        }
    }
}

fn conv_err(e: impl std::fmt::Display) -> MediaError {
    MediaError::invalid("picture", e.to_string())
}

/// Converts one picture to I420.
pub fn to_i420(
    format: PixelFormat,
    width: u32,
    height: u32,
    src: &[u8],
    pts_us: u64,
) -> Result<VideoFrame> {
    check_dimensions(width, height)?;
    let want = format.frame_len(width, height);
    if src.len() < want {
        return Err(MediaError::invalid(
            "picture",
            format!(
                "{} bytes where {format:?} at {width}x{height} is {want}",
                src.len()
            ),
        ));
    }
    let (w, h) = (width as usize, height as usize);
    if format == PixelFormat::I420 {
        return VideoFrame::from_i420(width, height, src[..want].to_vec(), pts_us);
    }
    if format == PixelFormat::Yuyv {
        // A repack, no colour maths: luma copied, each chroma sample the mean of the two
        // rows 4:2:2 carries for one 4:2:0 row. (yuvutils-rs 0.8.3's `yuyv422_to_yuv420`
        // leaves the last 16 pixels of each row at zero, so it isn't used.)
        let mut data = vec![0u8; VideoFrame::i420_len(width, height)];
        let (luma, chroma) = data.split_at_mut(w * h);
        let (u, v) = chroma.split_at_mut((w / 2) * (h / 2));
        for y in 0..h {
            let row = &src[y * w * 2..(y + 1) * w * 2];
            for (x, px) in row.chunks_exact(4).enumerate() {
                luma[y * w + 2 * x] = px[0];
                luma[y * w + 2 * x + 1] = px[2];
            }
        }
        for cy in 0..h / 2 {
            let (r0, r1) = (&src[2 * cy * w * 2..], &src[(2 * cy + 1) * w * 2..]);
            for cx in 0..w / 2 {
                let o = cx * 4;
                u[cy * (w / 2) + cx] =
                    (u16::from(r0[o + 1]) + u16::from(r1[o + 1])).div_ceil(2) as u8;
                v[cy * (w / 2) + cx] =
                    (u16::from(r0[o + 3]) + u16::from(r1[o + 3])).div_ceil(2) as u8;
            }
        }
        return VideoFrame::from_i420(width, height, data, pts_us);
    }
    if format == PixelFormat::Nv12 {
        // A plane copy and a de-interleave: no colour maths involved.
        let mut data = Vec::with_capacity(want);
        data.extend_from_slice(&src[..w * h]);
        let uv = &src[w * h..want];
        data.extend(uv.iter().step_by(2));
        data.extend(uv.iter().skip(1).step_by(2));
        return VideoFrame::from_i420(width, height, data, pts_us);
    }
    let mut planar =
        YuvPlanarImageMut::<u8>::alloc(width, height, yuvutils_rs::YuvChromaSubsampling::Yuv420);
    let (range, matrix, mode) = (
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    );
    type Convert = fn(
        &mut YuvPlanarImageMut<'_, u8>,
        &[u8],
        u32,
        YuvRange,
        YuvStandardMatrix,
        YuvConversionMode,
    ) -> Result<(), yuvutils_rs::YuvError>;
    let (convert, bytes_per_pixel): (Convert, usize) = match format {
        PixelFormat::Rgb => (yuvutils_rs::rgb_to_yuv420, 3),
        PixelFormat::Rgba => (yuvutils_rs::rgba_to_yuv420, 4),
        PixelFormat::Bgra => (yuvutils_rs::bgra_to_yuv420, 4),
        PixelFormat::Yuyv | PixelFormat::Nv12 | PixelFormat::I420 => {
            return Err(MediaError::invalid("picture", "format handled above"));
        }
    };
    convert(
        &mut planar,
        &src[..want],
        (w * bytes_per_pixel) as u32,
        range,
        matrix,
        mode,
    )
    .map_err(conv_err)?;
    // The planes without their padding.
    let want = VideoFrame::i420_len(width, height);
    let mut data = Vec::with_capacity(want);
    for (plane, stride, pw, ph) in [
        (planar.y_plane.borrow(), planar.y_stride as usize, w, h),
        (
            planar.u_plane.borrow(),
            planar.u_stride as usize,
            w / 2,
            h / 2,
        ),
        (
            planar.v_plane.borrow(),
            planar.v_stride as usize,
            w / 2,
            h / 2,
        ),
    ] {
        for row in 0..ph {
            data.extend_from_slice(&plane[row * stride..row * stride + pw]);
        }
    }
    VideoFrame::from_i420(width, height, data, pts_us)
}

/// Converts an I420 picture to RGBA (for painting where there is no YUV shader).
pub fn to_rgba(frame: &VideoFrame) -> Result<Vec<u8>> {
    let w = frame.width;
    let image = YuvPlanarImage {
        y_plane: frame.y(),
        y_stride: w,
        u_plane: frame.u(),
        u_stride: w / 2,
        v_plane: frame.v(),
        v_stride: w / 2,
        width: w,
        height: frame.height,
    };
    let mut out = vec![0u8; (w * frame.height * 4) as usize];
    yuvutils_rs::yuv420_to_rgba(
        &image,
        &mut out,
        w * 4,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
    )
    .map_err(conv_err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{draw, read_frame_number};

    #[test]
    fn rgba_round_trip_keeps_the_picture_and_its_frame_number() {
        let original = draw(640, 480, 77, 5).unwrap();
        let rgba = to_rgba(&original).unwrap();
        let back = to_i420(PixelFormat::Rgba, 640, 480, &rgba, 5).unwrap();
        assert!(back.psnr_y(&original).unwrap() > 40.0);
        assert_eq!(read_frame_number(&back), Some(77));
        let bgra: Vec<u8> = rgba
            .chunks(4)
            .flat_map(|p| [p[2], p[1], p[0], p[3]])
            .collect();
        let back = to_i420(PixelFormat::Bgra, 640, 480, &bgra, 5).unwrap();
        assert!(back.psnr_y(&original).unwrap() > 40.0);
        let rgb: Vec<u8> = rgba.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        assert!(
            to_i420(PixelFormat::Rgb, 640, 480, &rgb, 5)
                .unwrap()
                .psnr_y(&original)
                .unwrap()
                > 40.0
        );
    }

    #[test]
    fn camera_layouts_convert_exactly() {
        let original = draw(320, 240, 3, 0).unwrap();
        let (w, h) = (320usize, 240usize);
        // YUYV made from the I420 original (chroma duplicated vertically).
        let mut yuyv = Vec::with_capacity(w * h * 2);
        for y in 0..h {
            for x in (0..w).step_by(2) {
                let c = (y / 2) * (w / 2) + x / 2;
                yuyv.extend([
                    original.y()[y * w + x],
                    original.u()[c],
                    original.y()[y * w + x + 1],
                    original.v()[c],
                ]);
            }
        }
        let back = to_i420(PixelFormat::Yuyv, 320, 240, &yuyv, 0).unwrap();
        assert_eq!(back, original);
        assert!(
            back.u()
                .iter()
                .zip(original.u())
                .all(|(a, b)| a.abs_diff(*b) <= 1)
        );
        let mut nv12 = original.y().to_vec();
        for (u, v) in original.u().iter().zip(original.v()) {
            nv12.extend([*u, *v]);
        }
        assert_eq!(
            to_i420(PixelFormat::Nv12, 320, 240, &nv12, 0).unwrap(),
            original
        );
        let err = to_i420(PixelFormat::Yuyv, 320, 240, &yuyv[..100], 0).unwrap_err();
        assert!(err.to_string().contains("153600"), "{err}");
    }
}
